// Run-time loading of libibverbs.so.1 and librdmacm.so.1. The addon links neither library, so
// it loads on any machine; probe() says which piece is missing. Types and the inline data-path
// functions (ibv_post_send, ibv_poll_cq, ...: calls through the context's ops table) come from
// rdma-core's headers; every exported function is called through this table.
#pragma once

#ifdef DM_HAVE_RDMA_HEADERS
#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include <string>

namespace dm {

struct Verbs {
  // libibverbs
  ibv_device** (*get_device_list)(int*);
  void (*free_device_list)(ibv_device**);
  const char* (*get_device_name)(ibv_device*);
  ibv_context* (*open_device)(ibv_device*);
  int (*close_device)(ibv_context*);
  int (*query_device)(ibv_context*, ibv_device_attr*);
  int (*query_port)(ibv_context*, uint8_t, ibv_port_attr*);
  int (*query_gid)(ibv_context*, uint8_t, int, ibv_gid*);
  ibv_pd* (*alloc_pd)(ibv_context*);
  int (*dealloc_pd)(ibv_pd*);
  ibv_mr* (*reg_mr)(ibv_pd*, void*, size_t, int);
  int (*dereg_mr)(ibv_mr*);
  ibv_comp_channel* (*create_comp_channel)(ibv_context*);
  int (*destroy_comp_channel)(ibv_comp_channel*);
  ibv_cq* (*create_cq)(ibv_context*, int, void*, ibv_comp_channel*, int);
  int (*destroy_cq)(ibv_cq*);
  int (*get_cq_event)(ibv_comp_channel*, ibv_cq**, void**);
  void (*ack_cq_events)(ibv_cq*, unsigned int);
  int (*modify_qp)(ibv_qp*, ibv_qp_attr*, int);
  const char* (*wc_status_str)(ibv_wc_status);
  // librdmacm
  rdma_event_channel* (*create_event_channel)();
  void (*destroy_event_channel)(rdma_event_channel*);
  int (*create_id)(rdma_event_channel*, rdma_cm_id**, void*, rdma_port_space);
  int (*destroy_id)(rdma_cm_id*);
  int (*bind_addr)(rdma_cm_id*, sockaddr*);
  int (*resolve_addr)(rdma_cm_id*, sockaddr*, sockaddr*, int);
  int (*resolve_route)(rdma_cm_id*, int);
  int (*create_qp)(rdma_cm_id*, ibv_pd*, ibv_qp_init_attr*);
  void (*destroy_qp)(rdma_cm_id*);
  int (*connect)(rdma_cm_id*, rdma_conn_param*);
  int (*listen)(rdma_cm_id*, int);
  int (*accept)(rdma_cm_id*, rdma_conn_param*);
  int (*reject)(rdma_cm_id*, const void*, uint8_t);
  int (*disconnect)(rdma_cm_id*);
  int (*get_cm_event)(rdma_event_channel*, rdma_cm_event**);
  int (*ack_cm_event)(rdma_cm_event*);
  const char* (*event_str)(rdma_cm_event_type);
  ibv_context** (*get_devices)(int*);
  void (*free_devices)(ibv_context**);
  int (*migrate_id)(rdma_cm_id*, rdma_event_channel*);
  int (*set_option)(rdma_cm_id*, int, int, void*, size_t);
  uint16_t (*get_src_port)(rdma_cm_id*);
};

// Loads both libraries once. Returns nullptr and sets `why` ("no libibverbs: ...") on failure.
const Verbs* loadVerbs(std::string* why);

}  // namespace dm
#endif
