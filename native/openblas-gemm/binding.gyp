{
  "targets": [
    {
      "target_name": "openblas_gemm",
      "sources": ["gemm.c"],
      "cflags": ["-O2"],
      "libraries": ["-lopenblas"]
    }
  ]
}
