{
  "variables": {
    # Core's engine kit (packages/core/native: range checks, Pin and file I/O in region_io.h),
    # found through @datamover/core by name; a relative path because gyp mangles absolute paths.
    "kit%": "<!(node -p \"require('path').relative('.', require('path').join(require('path').dirname(require.resolve('@datamover/core/package.json')), 'native'))\")"
  },
  "targets": [
    {
      "target_name": "datamover_gds",
      # No CUDA header or library is needed to build: native/cuda_abi.h declares what is used and
      # native/loader.cc loads libcufile / libcudart / libcuda with dlopen at run time.
      "sources": [
        "native/module.cc", "native/libraries.cc", "native/probe.cc", "native/memory.cc", "native/abi_info.cc",
        "native/engine.cc", "native/regions.cc", "native/stats.cc", "native/loader.cc", "native/executor.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"require('path').join(require('path').dirname(require.resolve('@datamover/core/package.json')), 'include')\")",
        "<(kit)"
      ],
      "libraries": ["-ldl", "-lpthread"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
