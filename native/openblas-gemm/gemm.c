/*
 * sgemm(a, b, c, M, N, K, transA, transB): C[M,N] = op(A) op(B), row-major float32,
 * through the system's OpenBLAS on the calling thread. op(A) is A [M,K], or A stored
 * [K,M] when transA; op(B) is B [K,N], or B stored [N,K] when transB. The arrays may
 * be views on shared memory (worker threads call this on their own rows). The caller
 * splits work across threads itself, so OpenBLAS runs each call on one thread.
 */
#include <node_api.h>
#include <cblas.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

extern void openblas_set_num_threads(int);

static bool floats(napi_env env, napi_value v, float **data, size_t *len, const char *name) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  napi_typedarray_type type;
  void *p = NULL;
  if (!is || napi_get_typedarray_info(env, v, &type, len, &p, NULL, NULL) != napi_ok || type != napi_float32_array) {
    char msg[96];
    snprintf(msg, sizeof msg, "sgemm: %s must be a Float32Array", name);
    napi_throw_type_error(env, NULL, msg);
    return false;
  }
  *data = (float *)p;
  return true;
}

static bool dim(napi_env env, napi_value v, int32_t *out, const char *name) {
  if (napi_get_value_int32(env, v, out) != napi_ok || *out < 1) {
    char msg[96];
    snprintf(msg, sizeof msg, "sgemm: %s must be a positive integer", name);
    napi_throw_range_error(env, NULL, msg);
    return false;
  }
  return true;
}

static napi_value sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 8;
  napi_value argv[8];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) {
    napi_throw_type_error(env, NULL, "sgemm(a, b, c, M, N, K, transA?, transB?)");
    return NULL;
  }
  float *a, *b, *c;
  size_t la, lb, lc;
  int32_t M, N, K;
  if (!floats(env, argv[0], &a, &la, "a") || !floats(env, argv[1], &b, &lb, "b") || !floats(env, argv[2], &c, &lc, "c")) return NULL;
  if (!dim(env, argv[3], &M, "M") || !dim(env, argv[4], &N, "N") || !dim(env, argv[5], &K, "K")) return NULL;
  bool ta = false, tb = false;
  if (argc > 6) napi_get_value_bool(env, argv[6], &ta);
  if (argc > 7) napi_get_value_bool(env, argv[7], &tb);
  if (la < (size_t)M * K || lb < (size_t)K * N || lc < (size_t)M * N) {
    napi_throw_range_error(env, NULL, "sgemm: an array is shorter than its M, N, K say");
    return NULL;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, a, ta ? M : K, b, tb ? K : N, 0.0f, c, N);
  return NULL;
}

NAPI_MODULE_INIT() {
  openblas_set_num_threads(1);
  napi_value fn;
  napi_create_function(env, "sgemm", NAPI_AUTO_LENGTH, sgemm, NULL, &fn);
  napi_set_named_property(env, exports, "sgemm", fn);
  return exports;
}
