// probe(): the devices, ports and GIDs libibverbs sees, and the first thing missing.
#include "probe.h"

#include <cstring>
#include <string>

#include "verbs.h"

namespace dm {

#ifdef DM_HAVE_RDMA_HEADERS

// probe(): what the machine has, and the first thing missing, in the order a user fixes it.
Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("headers", true);
  std::string why;
  const Verbs* v = loadVerbs(&why);
  auto missing = [&](const char* what, const std::string& message) {
    out.Set("missing", what);
    out.Set("message", message);
    return out;
  };
  if (v == nullptr) return missing(why.rfind("no librdmacm", 0) == 0 ? "librdmacm" : "libibverbs", why);
  int n = 0;
  ibv_device** list = v->get_device_list(&n);
  Napi::Array devices = Napi::Array::New(env);
  out.Set("devices", devices);
  if (list == nullptr || n == 0) {
    if (list) v->free_device_list(list);
    return missing("device", "no RDMA device: libibverbs found no device (load a driver, e.g. `rdma link add rxe0 type rxe netdev eth0` for Soft-RoCE)");
  }
  bool anyActive = false, anyGid = false;
  for (int i = 0; i < n; i++) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("name", v->get_device_name(list[i]));
    Napi::Array ports = Napi::Array::New(env);
    d.Set("ports", ports);
    devices.Set(i, d);
    ibv_context* ctx = v->open_device(list[i]);
    if (ctx == nullptr) continue;
    ibv_device_attr da;
    if (v->query_device(ctx, &da) == 0) {
      for (uint8_t p = 1; p <= da.phys_port_cnt; p++) {
        ibv_port_attr pa;
        std::memset(&pa, 0, sizeof pa);
        if (v->query_port(ctx, p, &pa) != 0) continue;
        Napi::Object po = Napi::Object::New(env);
        po.Set("port", p);
        po.Set("active", pa.state == IBV_PORT_ACTIVE);
        po.Set("mtu", 128 << pa.active_mtu);
        int gids = 0;
        for (int g = 0; g < pa.gid_tbl_len && g < 64; g++) {
          ibv_gid gid;
          if (v->query_gid(ctx, p, g, &gid) != 0) continue;
          bool zero = true;
          for (uint8_t b : gid.raw) zero = zero && b == 0;
          if (!zero) gids++;
        }
        po.Set("gids", gids);
        ports.Set(ports.Length(), po);
        if (pa.state == IBV_PORT_ACTIVE) {
          anyActive = true;
          if (gids > 0) anyGid = true;
        }
      }
    }
    v->close_device(ctx);
  }
  v->free_device_list(list);
  if (!anyActive) return missing("active-port", "no active port: every RDMA port is down (check the link / the netdev under the rxe device)");
  if (!anyGid) return missing("gid", "no GID: no active port has a GID (give the netdev an IP address)");
  return out;
}

#else  // no rdma-core headers at build time

Napi::Value Probe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  out.Set("headers", false);
  out.Set("missing", "headers");
  out.Set("message", "built without rdma-core headers (install libibverbs-dev and librdmacm-dev, then rebuild: pnpm --filter @datamover/backend-rdma build:native)");
  return out;
}

#endif

}  // namespace dm
