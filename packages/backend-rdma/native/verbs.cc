// loadVerbs(): dlopens libibverbs.so.1 and librdmacm.so.1 once and fills the table verbs.h declares.
#include "verbs.h"

#ifdef DM_HAVE_RDMA_HEADERS
#include <dlfcn.h>

#include <mutex>
#include <string>

namespace dm {

const Verbs* loadVerbs(std::string* why) {
  static std::once_flag once;
  static Verbs table;
  static std::string error;
  static bool ok = false;
  std::call_once(once, [] {
    void* ib = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_GLOBAL);
    if (ib == nullptr) {
      error = std::string("no libibverbs: ") + dlerror() + " (install rdma-core's libibverbs1 and ibverbs-providers)";
      return;
    }
    void* cm = dlopen("librdmacm.so.1", RTLD_NOW | RTLD_GLOBAL);
    if (cm == nullptr) {
      error = std::string("no librdmacm: ") + dlerror() + " (install rdma-core's librdmacm1)";
      return;
    }
    std::string missing;
    auto sym = [&](void* lib, const char* name, auto& slot) {
      void* p = dlsym(lib, name);
      if (p == nullptr) missing += std::string(missing.empty() ? "" : ", ") + name;
      slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(p);
    };
    sym(ib, "ibv_get_device_list", table.get_device_list);
    sym(ib, "ibv_free_device_list", table.free_device_list);
    sym(ib, "ibv_get_device_name", table.get_device_name);
    sym(ib, "ibv_open_device", table.open_device);
    sym(ib, "ibv_close_device", table.close_device);
    sym(ib, "ibv_query_device", table.query_device);
    sym(ib, "ibv_query_port", table.query_port);
    sym(ib, "ibv_query_gid", table.query_gid);
    sym(ib, "ibv_alloc_pd", table.alloc_pd);
    sym(ib, "ibv_dealloc_pd", table.dealloc_pd);
    sym(ib, "ibv_reg_mr", table.reg_mr);
    sym(ib, "ibv_dereg_mr", table.dereg_mr);
    sym(ib, "ibv_create_comp_channel", table.create_comp_channel);
    sym(ib, "ibv_destroy_comp_channel", table.destroy_comp_channel);
    sym(ib, "ibv_create_cq", table.create_cq);
    sym(ib, "ibv_destroy_cq", table.destroy_cq);
    sym(ib, "ibv_get_cq_event", table.get_cq_event);
    sym(ib, "ibv_ack_cq_events", table.ack_cq_events);
    sym(ib, "ibv_modify_qp", table.modify_qp);
    sym(ib, "ibv_wc_status_str", table.wc_status_str);
    sym(cm, "rdma_create_event_channel", table.create_event_channel);
    sym(cm, "rdma_destroy_event_channel", table.destroy_event_channel);
    sym(cm, "rdma_create_id", table.create_id);
    sym(cm, "rdma_destroy_id", table.destroy_id);
    sym(cm, "rdma_bind_addr", table.bind_addr);
    sym(cm, "rdma_resolve_addr", table.resolve_addr);
    sym(cm, "rdma_resolve_route", table.resolve_route);
    sym(cm, "rdma_create_qp", table.create_qp);
    sym(cm, "rdma_destroy_qp", table.destroy_qp);
    sym(cm, "rdma_connect", table.connect);
    sym(cm, "rdma_listen", table.listen);
    sym(cm, "rdma_accept", table.accept);
    sym(cm, "rdma_reject", table.reject);
    sym(cm, "rdma_disconnect", table.disconnect);
    sym(cm, "rdma_get_cm_event", table.get_cm_event);
    sym(cm, "rdma_ack_cm_event", table.ack_cm_event);
    sym(cm, "rdma_event_str", table.event_str);
    sym(cm, "rdma_get_devices", table.get_devices);
    sym(cm, "rdma_free_devices", table.free_devices);
    sym(cm, "rdma_migrate_id", table.migrate_id);
    sym(cm, "rdma_set_option", table.set_option);
    sym(cm, "rdma_get_src_port", table.get_src_port);
    if (!missing.empty()) {
      error = "rdma-core libraries lack symbols: " + missing;
      return;
    }
    ok = true;
  });
  if (!ok) {
    if (why) *why = error;
    return nullptr;
  }
  return &table;
}

}  // namespace dm
#endif
