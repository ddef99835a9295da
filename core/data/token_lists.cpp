// tokens:PATH[,maxlen=N][,padding=pre|post][,truncating=pre|post][,value=V][,label=first|none]
//
// A text file of variable-length token lists, one sample per line (integers separated by blanks
// or commas; blank lines skipped), made one (n, maxlen) array as Keras's pad_sequences makes it:
// maxlen defaults to the longest list; a shorter list is padded with value (0) before it
// (padding=pre, the default) or after it; a longer one loses its first items (truncating=pre, the
// default) or its last; a list with no tokens is all value. label=first (the default) reads each
// line's first integer as the sample's class index; label=none reads every integer as a token
// (predict's inputs).
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <plugfit/error.hpp>

#include "dataset.hpp"
#include "key_values.hpp"

namespace plugfit {

namespace detail {
Dataset read_token_lists(const std::string& spec, const std::string& rest);
}

namespace {

struct TokenOptions {
  std::size_t maxlen = 0;  // 0: the longest list
  bool pad_before = true, cut_front = true, first_is_label = true;
  std::int64_t value = 0;
};

bool parse_integer(std::string_view s, std::int64_t& out) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

// "pre" or "post" for padding= and truncating=: true for pre.
bool pre_or_post(const std::string& what, const std::string& key, const std::string& value) {
  if (value != "pre" && value != "post")
    throw InputError(what + " has " + key + "=" + value + " (use " + key + "=pre or " + key + "=post)");
  return value == "pre";
}

TokenOptions parse_options(const std::string& what, const std::string& options) {
  TokenOptions out;
  for (const auto& [key, value] : split_key_values(options, what)) {
    std::int64_t n = 0;
    if (key == "maxlen") {
      if (!parse_integer(value, n) || n <= 0)
        throw InputError(what + " has maxlen=" + value + ", which is not a positive integer");
      out.maxlen = static_cast<std::size_t>(n);
    } else if (key == "padding") {
      out.pad_before = pre_or_post(what, key, value);
    } else if (key == "truncating") {
      out.cut_front = pre_or_post(what, key, value);
    } else if (key == "value") {
      if (!parse_integer(value, out.value))
        throw InputError(what + " has value=" + value + ", which is not an integer (the padding token id)");
    } else if (key == "label") {
      if (value != "first" && value != "none")
        throw InputError(what + " has label=" + value + " (use label=first or label=none)");
      out.first_is_label = value == "first";
    } else {
      throw InputError(what + " has the unknown option \"" + key +
                       "\" (known: maxlen, padding, truncating, value, label)");
    }
  }
  return out;
}

std::string read_text(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw InputError("token file " + path + " does not exist");
  if (std::filesystem::is_directory(path, ec)) throw InputError("token file " + path + " is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("token file " + path + " cannot be opened (" + std::strerror(errno) + ")");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw InputError("token file " + path + " cannot be read (" + std::strerror(errno) + ")");
  return text;
}

}  // namespace

Dataset detail::read_token_lists(const std::string& spec, const std::string& rest) {
  const auto comma = rest.find(',');
  const std::string path = rest.substr(0, comma);
  if (path.empty())
    throw InputError("data spec \"" + spec + "\" names no token file (use tokens:PATH[,maxlen=N][,padding=pre|post]" +
                     "[,truncating=pre|post][,value=V][,label=first|none])");
  const TokenOptions opts =
      parse_options("token spec for " + path, comma == std::string::npos ? "" : rest.substr(comma + 1));
  const std::string text = read_text(path);

  std::vector<std::int64_t> tokens;  // every list, one after another
  std::vector<std::size_t> starts;   // where each list begins in tokens
  std::vector<float> labels;
  std::size_t line_no = 0, pos = 0, longest = 0;
  while (pos < text.size()) {
    const auto nl = text.find('\n', pos);
    const std::string_view line(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    ++line_no;
    const std::size_t begin = tokens.size();
    std::size_t item = 0, at = 0;
    while (at < line.size()) {
      const std::size_t start = line.find_first_not_of(" \t\r,", at);
      if (start == std::string_view::npos) break;
      const std::size_t end = std::min(line.find_first_of(" \t\r,", start), line.size());
      const std::string_view field = line.substr(start, end - start);
      std::int64_t v = 0;
      ++item;
      if (!parse_integer(field, v))
        throw InputError("token file " + path + ": line " + std::to_string(line_no) + ", item " +
                         std::to_string(item) + " holds \"" + std::string(field.substr(0, 40)) +
                         "\", which is not an integer");
      if (opts.first_is_label && item == 1) labels.push_back(static_cast<float>(v));
      else tokens.push_back(v);
      at = end;
    }
    if (item == 0) continue;  // a blank line
    starts.push_back(begin);
    longest = std::max(longest, tokens.size() - begin);
  }
  const std::size_t n = starts.size();
  if (n == 0) throw InputError("token file " + path + " has no samples");
  if (opts.maxlen == 0 && longest == 0)
    throw InputError("token file " + path + " holds no tokens, only labels (give maxlen=N for lists of padding)");
  const std::size_t maxlen = opts.maxlen != 0 ? opts.maxlen : longest;

  Dataset d;
  d.spec = spec;
  d.x = Tensor::from_shape({n, maxlen});
  std::fill(d.x.begin(), d.x.end(), static_cast<float>(opts.value));
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t end = i + 1 < n ? starts[i + 1] : tokens.size();
    const std::size_t length = end - starts[i], kept = std::min(length, maxlen);
    const std::int64_t* first = tokens.data() + starts[i] + (opts.cut_front ? length - kept : 0);
    float* row = d.x.data() + i * maxlen + (opts.pad_before ? maxlen - kept : 0);
    for (std::size_t t = 0; t < kept; ++t) row[t] = static_cast<float>(first[t]);
  }
  if (opts.first_is_label) {
    d.y = Tensor::from_shape({n});
    std::copy(labels.begin(), labels.end(), d.y.data());
  }
  return d;
}

}  // namespace plugfit
