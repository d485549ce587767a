{
  "variables": {
    # Core's engine kit (packages/core/native: the executor, memory primitives, striping, the
    # SIGBUS guard), found through @datamover/core by name; a relative path because gyp mangles
    # absolute source paths.
    "kit%": "<!(node -p \"require('path').relative('.', require('path').join(require('path').dirname(require.resolve('@datamover/core/package.json')), 'native'))\")"
  },
  "targets": [
    {
      "target_name": "datamover_cxl",
      "sources": [
        "native/addon.cc",
        "native/engine.cc",
        "native/mapping.cc",
        "native/numa.cc",
        "native/persist.cc",
        "<(kit)/executor.cc", "<(kit)/strided.cc",
        "<(kit)/memops.cc",
        "<(kit)/stripes.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"require('path').join(require('path').dirname(require.resolve('@datamover/core/package.json')), 'include')\")",
        "<(kit)"
      ],
      # SWALLOW_UNTHROWABLE: a progress call that lands while the environment is shutting down
      # must be dropped, not turned into a C++ exception that escapes into libuv (abort).
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O3", "-Wall", "-Wextra"]
    }
  ]
}
