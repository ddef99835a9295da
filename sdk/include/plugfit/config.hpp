// Configs are JSON objects, Keras-shaped: {"class_name": "Dense", "config": {"units": 128}}.
//
// Config wraps the "config" object of one type and remembers which keys the type read. After a
// type's constructor returns, the registry calls check_all_used(): a key nobody read is a typo
// or an option the type does not have, and is an error naming the key, the type and the keys
// it knows: every key the type read, asked about with has(), or accepted, so an option read
// only when present (has() then get()) is listed too. Types that accept a Keras key they do not
// use (say "trainable") call accept().
#pragma once

#include <set>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "error.hpp"
#include "export.hpp"

namespace plugfit {

using Json = nlohmann::json;

// A JSON value as an error message quotes it: as JSON when that is short (60 characters),
// a longer string cut, a longer object or list by what it holds ("an object with the keys "a",
// "b"", "a list of 300 values"), so that a sentence never carries a dump of the input.
PLUGFIT_API std::string json_excerpt(const Json& value);
class Registry;

class PLUGFIT_API Config {
 public:
  // requires: config is an object or null (null reads as {}).
  Config(Json config, std::string type_name);

  const std::string& type_name() const { return type_; }
  // Whether key is present and not null; the key counts as one the type knows.
  bool has(const std::string& key) const;

  // The value at key converted to T, or fallback when the key is absent or null.
  // Throws InputError naming the type, the key and the expected kind on a wrong type.
  template <class T>
  T get(const std::string& key, T fallback) {
    const Json* v = lookup(key);
    if (v == nullptr || v->is_null()) return fallback;
    return convert<T>(key, *v);
  }
  // The value at key, which must be present.
  template <class T>
  T require(const std::string& key) {
    const Json* v = lookup(key);
    if (v == nullptr || v->is_null()) missing(key);
    return convert<T>(key, *v);
  }
  // The raw JSON at key (null when absent).
  const Json& raw(const std::string& key);
  // Marks keys as known without reading them.
  void accept(std::initializer_list<const char*> keys);
  // Marks every key as known (for types that read their config as plain JSON).
  void accept_all();

  // Throws InputError for the first key that was never read, asked about or accepted, listing
  // known_keys().
  void check_all_used() const;
  // The keys read, asked about or accepted so far, sorted: after the type's constructor, its options.
  const std::set<std::string>& known_keys() const { return used_; }
  const Json& json() const { return json_; }
  // The registry constructing the type, for types that build nested types (a schedule), or null.
  const Registry* registry() const { return registry_; }
  void set_registry(const Registry* registry) { registry_ = registry; }

 private:
  const Json* lookup(const std::string& key);
  [[noreturn]] void missing(const std::string& key) const;
  [[noreturn]] void wrong_type(const std::string& key, const char* expected, const Json& got) const;

  template <class T>
  T convert(const std::string& key, const Json& v) const {
    if constexpr (std::is_same_v<T, bool>) {
      if (!v.is_boolean()) wrong_type(key, "a boolean", v);
    } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
      if (!v.is_number_integer() || v.get<long long>() < 0) wrong_type(key, "a non-negative integer", v);
    } else if constexpr (std::is_integral_v<T>) {
      if (!v.is_number_integer()) wrong_type(key, "an integer", v);
    } else if constexpr (std::is_floating_point_v<T>) {
      if (!v.is_number()) wrong_type(key, "a number", v);
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (!v.is_string()) wrong_type(key, "a string", v);
    } else if constexpr (std::is_same_v<T, Json>) {
      return v;
    }
    try {
      return v.get<T>();
    } catch (const nlohmann::json::exception&) {
      wrong_type(key, "a value of another type", v);
    }
  }

  Json json_;
  std::string type_;
  mutable std::set<std::string> used_;  // has() is a const question that still marks the key known
  const Registry* registry_ = nullptr;
};

}  // namespace plugfit
