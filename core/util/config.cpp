#include <plugfit/config.hpp>

namespace plugfit {

namespace {
// JSON leaves DEL unescaped; a message must stay printable.
std::string escape_delete(std::string text) {
  for (std::size_t at = text.find('\x7f'); at != std::string::npos; at = text.find('\x7f', at))
    text.replace(at, 1, "\\u007f");
  return text;
}
}  // namespace

std::string json_excerpt(const Json& value) {
  constexpr std::size_t kMaxChars = 60;
  if (value.is_string()) {
    std::string text = value.get<std::string>();
    const bool cut = text.size() > kMaxChars;
    if (cut) text.resize(kMaxChars);
    std::string quoted = Json(text).dump(-1, ' ', false, Json::error_handler_t::replace);  // escaped, invalid UTF-8 replaced
    if (cut) quoted.insert(quoted.size() - 1, "...");
    return escape_delete(quoted);
  }
  // Short values read best as themselves.
  if (std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace); text.size() <= kMaxChars)
    return escape_delete(text);
  if (value.is_object()) {
    std::string keys;
    std::size_t shown = 0;
    for (auto it = value.begin(); it != value.end() && shown < 4; ++it, ++shown)
      keys += (keys.empty() ? "" : ", ") + json_excerpt(Json(it.key()));
    if (value.size() > shown) keys += ", ...";
    return std::string("an object with the key") + (value.size() == 1 ? " " : "s ") + keys;
  }
  return "a list of " + std::to_string(value.size()) + " values";
}

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
  throw InputError(type_ + ": the option \"" + key + "\" must be " + expected + ", got " + json_excerpt(got));
}

}  // namespace plugfit
