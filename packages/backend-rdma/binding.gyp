{
  "variables": {
    # Debian's libibverbs-dev / librdmacm-dev headers, when present. Without them the addon is a
    # stub whose probe() says "built without rdma-core headers". The libraries themselves are
    # never linked: the addon dlopens libibverbs.so.1 and librdmacm.so.1 at run time, so loading
    # it never fails on a machine without RDMA.
    "have_rdma%": "<!(node -p \"const f=require('fs');f.existsSync('/usr/include/infiniband/verbs.h')&&f.existsSync('/usr/include/rdma/rdma_cma.h')?1:0\")"
  },
  "targets": [
    {
      "target_name": "datamover_rdma",
      "sources": [
        "native/module.cc", "native/verbs.cc", "native/probe.cc", "native/engine.cc", "native/regions.cc",
        "native/consumer.cc", "native/queue_pairs.cc", "native/connections.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"require('path').join(require('path').dirname(require.resolve('@datamover/core/package.json')), 'include')\")"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall", "-Wextra"],
      "libraries": ["-ldl", "-lpthread"],
      "conditions": [
        ["have_rdma == 1", { "defines": ["DM_HAVE_RDMA_HEADERS=1"] }]
      ]
    }
  ]
}
