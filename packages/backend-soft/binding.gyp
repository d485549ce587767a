{
  "targets": [
    {
      "target_name": "datamover_soft",
      "sources": ["native/engine.cc", "native/executor.cc", "native/memops.cc", "native/stripes.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"require('path').join(require('path').dirname(require.resolve('@datamover/core/package.json')), 'include')\")"
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
