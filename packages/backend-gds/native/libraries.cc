// The `libraries` argument (which names to dlopen) and the libraries' own errors, thrown or
// described for JavaScript.
#include <climits>
#include <cstring>
#include <string>
#include <utility>

#include "addon.h"

namespace gds {

namespace {

// The library's own name and text for one of its codes (empty where it offers none; cuFile
// offers only a text).
std::pair<std::string, std::string> nativeText(const Api& api, const char* library, int code) {
  if (std::strcmp(library, "cudart") == 0) return {api.cudaErrorName(code), api.cudaErrorText(code)};
  if (std::strcmp(library, "cuda") == 0) return {api.cuResultName(code), api.cuResultText(code)};
  return {"", api.cufileErrorText(code)};
}

std::vector<std::string> namesArg(Napi::Env env, const Napi::Object& o, const char* key, std::vector<std::string> fallback) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsArray()) fail(env, "INVALID_ARGUMENT", std::string("libraries.") + key + " must be an array of library names");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value s = a.Get(i);
    if (!s.IsString()) fail(env, "INVALID_ARGUMENT", std::string("libraries.") + key + " must hold strings");
    out.push_back(s.As<Napi::String>().Utf8Value());
  }
  return out;
}

}  // namespace

// A library's own error: code names the library ("CUDART_ERROR", "CUFILE_ERROR", "CUDA_ERROR"),
// `libraryCode` its number, `cuErr` the CUresult inside a CU_FILE_CUDA_DRIVER_ERROR, `nativeText`
// the library's own text where it offers one.
[[noreturn]] void failLibrary(Napi::Env env, const Api& api, const char* library, int code, int cuErr,
                              const std::string& what) {
  const auto [name, text] = nativeText(api, library, code);
  std::string message = what + ": " + library + " error " + std::to_string(code);
  if (!name.empty()) message += " " + name;
  if (!text.empty()) message += " (" + text + ")";
  Napi::Error e = Napi::Error::New(env, message);
  const char* code_ = std::strcmp(library, "cudart") == 0 ? "CUDART_ERROR" : std::strcmp(library, "cuda") == 0 ? "CUDA_ERROR" : "CUFILE_ERROR";
  e.Set("code", Napi::String::New(env, code_));
  e.Set("library", Napi::String::New(env, library));
  e.Set("libraryCode", Napi::Number::New(env, code));
  if (cuErr != 0) e.Set("cuErr", Napi::Number::New(env, cuErr));
  if (!name.empty()) e.Set("nativeName", Napi::String::New(env, name));
  if (!text.empty()) e.Set("nativeText", Napi::String::New(env, text));
  if (api.cudaGetLastError != nullptr) api.cudaGetLastError();
  throw e;
}

// { cufile?: string[], cudart?: string[], cuda?: string[] } -> the (cached) API table.
const Api& apiArg(Napi::Env env, const Napi::Value& v) {
  LoadOptions lo;
  if (!v.IsUndefined() && !v.IsNull()) {
    if (!v.IsObject()) fail(env, "INVALID_ARGUMENT", "libraries must be an object");
    Napi::Object o = v.As<Napi::Object>();
    lo.cufile = namesArg(env, o, "cufile", lo.cufile);
    lo.cudart = namesArg(env, o, "cudart", lo.cudart);
    lo.cuda = namesArg(env, o, "cuda", lo.cuda);
  }
  return loadApi(lo);
}

const Api& usableApi(Napi::Env env, const Napi::Value& v) {
  const Api& api = apiArg(env, v);
  if (!api.cudaUsable()) fail(env, "UNAVAILABLE", "the CUDA runtime is not loaded (see probe())");
  return api;
}

Napi::Array strings(Napi::Env env, const std::vector<std::string>& v) {
  Napi::Array a = Napi::Array::New(env, v.size());
  for (uint32_t i = 0; i < v.size(); ++i) a.Set(i, Napi::String::New(env, v[i]));
  return a;
}

Napi::Object libraryError(Napi::Env env, const Api& api, const char* library, int code, int cuErr) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("library", Napi::String::New(env, library));
  o.Set("code", Napi::Number::New(env, code));
  if (cuErr != 0) o.Set("cuErr", Napi::Number::New(env, cuErr));
  const auto [name, text] = nativeText(api, library, code);
  if (!name.empty()) o.Set("nativeName", Napi::String::New(env, name));
  if (!text.empty()) o.Set("nativeText", Napi::String::New(env, text));
  return o;
}

// errorText(libraries, library, code) -> { name?, text? } from the loaded library itself.
Napi::Value ErrorText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const Api& api = apiArg(env, info[0]);
  if (!info[1].IsString()) fail(env, "INVALID_ARGUMENT", "library must be a string");
  const std::string lib = info[1].As<Napi::String>().Utf8Value();
  const int code = static_cast<int>(intArg(env, info[2], INT_MIN, INT_MAX, "code"));
  Napi::Object o = libraryError(env, api, lib == "cudart" ? "cudart" : lib == "cuda" ? "cuda" : "cufile", code);
  return o;
}

}  // namespace gds
