#include <plugfit/config.hpp>

namespace plugfit {

Config::Config(Json config, std::string type_name) : json_(std::move(config)), type_(std::move(type_name)) {
  if (json_.is_null()) json_ = Json::object();
  if (!json_.is_object())
    throw InputError(type_ + ": \"config\" must be a JSON object, got " + std::string(json_.type_name()));
}

bool Config::has(const std::string& key) const {
  used_.insert(key);
  return json_.contains(key) && !json_.at(key).is_null();
}

const Json* Config::lookup(const std::string& key) {
  used_.insert(key);
  auto it = json_.find(key);
  return it == json_.end() ? nullptr : &*it;
}

const Json& Config::raw(const std::string& key) {
  static const Json null_json;
  const Json* v = lookup(key);
  return v == nullptr ? null_json : *v;
}

void Config::accept(std::initializer_list<const char*> keys) {
  for (const char* k : keys) used_.insert(k);
}

void Config::accept_all() {
  for (auto it = json_.begin(); it != json_.end(); ++it) used_.insert(it.key());
}

void Config::check_all_used() const {
  for (auto it = json_.begin(); it != json_.end(); ++it) {
    if (used_.count(it.key()) != 0) continue;
    std::string known;
    for (const auto& k : used_) known += (known.empty() ? "" : ", ") + k;
    throw InputError(type_ + " has no option \"" + it.key() + "\"" +
                     (known.empty() ? " (it takes no options)" : " (it knows: " + known + ")"));
  }
}

void Config::missing(const std::string& key) const {
  throw InputError(type_ + ": the option \"" + key + "\" is required");
}

void Config::wrong_type(const std::string& key, const char* expected, const Json& got) const {
  throw InputError(type_ + ": the option \"" + key + "\" must be " + expected + ", got " + got.dump());
}

}  // namespace plugfit
