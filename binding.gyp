# node-gyp build of the same addon cmake-js builds (CMakeLists.txt): the same sources, read from the
# CMake source lists by native/addon/gyp-sources.mjs, and the same defines. LibTorch comes from $LIBTORCH
# (an unpacked libtorch) or the system (Debian libtorch-dev). scripts/check-gyp.sh builds and loads it.
{
  "variables": {
    "libtorch%": "<!(echo $LIBTORCH)",
  },
  "targets": [
    {
      "target_name": "asr_trainer",
      "sources": ["<!@(node native/addon/gyp-sources.mjs)"],
      "include_dirs": [
        "native/core/include",
        "<!(node -p \"require('node-addon-api').include_dir\")",
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "_GLIBCXX_USE_CXX11_ABI=1",
        "<!@(node native/addon/gyp-sources.mjs --defines)",
      ],
      # LibTorch throws C++ exceptions and uses RTTI; node-gyp turns both off by default.
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++1y"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-Wno-unused-parameter", "-Wno-sign-compare"],
      "libraries": ["-lsndfile", "-lsoxr", "<!@(node native/addon/gyp-sources.mjs --libraries)", "-lpthread"],
      # Keep every torch library linked (libtorch_cuda is referenced by nothing directly).
      "ldflags": ["-Wl,--no-as-needed"],
      "conditions": [
        [
          "libtorch==''",
          {
            "include_dirs": ["/usr/include", "/usr/include/torch/csrc/api/include"],
            "libraries": ["-ltorch", "-ltorch_cpu", "-lc10"],
          },
          {
            "include_dirs": ["<(libtorch)/include", "<(libtorch)/include/torch/csrc/api/include"],
            "libraries": [
              "-L<(libtorch)/lib",
              "-Wl,-rpath,<(libtorch)/lib",
              "-ltorch",
              "-ltorch_cpu",
              "-lc10",
              "<!@(for l in torch_cuda c10_cuda; do [ -f <(libtorch)/lib/lib$l.so ] && echo -l$l; done; true)",
            ],
          },
        ]
      ],
    }
  ],
}
