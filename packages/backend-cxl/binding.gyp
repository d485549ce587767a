{
  "variables": {
    # The soft backend's executor (region table, bounds and overlap checks, copy / fill / compare /
    # crc32c) and memory primitives (non-temporal copies and fills, SSE4.2 CRC-32C) are compiled
    # in from its package: a dax mapping is executed by exactly the code the soft engine runs on
    # host memory. A relative path: gyp mangles absolute source paths.
    "soft_native%": "<!(node -p \"require('path').relative('.', require('path').join(require('path').dirname(require.resolve('@datamover/backend-soft/package.json')), 'native'))\")"
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
        "<(soft_native)/executor.cc",
        "<(soft_native)/memops.cc",
        "<(soft_native)/stripes.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"require('path').join(require('path').dirname(require.resolve('@datamover/core/package.json')), 'include')\")",
        "<(soft_native)"
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
