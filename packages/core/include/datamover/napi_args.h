// Argument checks and coded errors for the backends' N-API entry points (node-addon-api, built
// with NAPI_CPP_EXCEPTIONS). The `code` of a thrown error is what the TypeScript side maps to a
// DatamoverError code, so the strings here are part of every addon's behaviour.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>

namespace dm {

// Number.MAX_SAFE_INTEGER: the largest integer a JS number carries exactly.
inline constexpr uint64_t kMaxSafeInteger = (uint64_t{1} << 53) - 1;

// Throws a JS Error with a string `code` property.
[[noreturn]] inline void fail(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  throw e;
}

// A JS number that is an integer in [min, max] (max <= 2^53).
inline int64_t intArg(Napi::Env env, const Napi::Value& v, int64_t min, int64_t max, const char* what) {
  const double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1e300;
  if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || d != static_cast<double>(static_cast<int64_t>(d)))
    fail(env, "INVALID_ARGUMENT",
         std::string(what) + " must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
  return static_cast<int64_t>(d);
}

inline Napi::Uint8Array uint8ArrayArg(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    fail(env, "INVALID_ARGUMENT", std::string(what) + " must be a Uint8Array");
  return v.As<Napi::Uint8Array>();
}

inline bool boolArg(Napi::Env env, const Napi::Value& v, const char* what) {
  if (!v.IsBoolean()) fail(env, "INVALID_ARGUMENT", std::string(what) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

}  // namespace dm
