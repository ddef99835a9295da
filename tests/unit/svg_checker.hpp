// What the plot tests share: a small XML well-formedness checker for the SVGs, and helpers.
#pragma once

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <plugfit/registry.hpp>

#include "training/callbacks/history_plot.hpp"
#include "training/callbacks/json_lines_logger.hpp"
#include "training/callback_access.hpp"
#include "training/plot.hpp"
#include "training/session.hpp"
#include "test_support.hpp"


namespace plugfit::test {

// ---------------------------------------------------------------------------------------------
// A small XML well-formedness checker: one root element, tags nested and matched, attributes
// quoted and unique, '<' never in text or attribute values, '&' only in the five predefined
// entities or character references; an optional XML declaration, comments and whitespace
// outside the root. Collects the elements with their attributes and text.

struct Element {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::string text;  // character data directly inside, entities decoded
};

struct XmlDocument {
  std::string error;  // empty: well formed
  std::vector<Element> elements;  // in document order
  std::size_t count(const std::string& name) const {
    std::size_t n = 0;
    for (const auto& e : elements) n += e.name == name;
    return n;
  }
  std::vector<const Element*> all(const std::string& name) const {
    std::vector<const Element*> found;
    for (const auto& e : elements)
      if (e.name == name) found.push_back(&e);
    return found;
  }
  std::vector<std::string> texts() const {
    std::vector<std::string> found;
    for (const auto* e : all("text")) found.push_back(e->text);
    return found;
  }
  bool has_text(const std::string& text) const {
    for (const auto& t : texts())
      if (t == text) return true;
    return false;
  }
};

class XmlChecker {
 public:
  explicit XmlChecker(const std::string& text) : s_(text) {}

  XmlDocument run() {
    try {
      if (s_.compare(0, 5, "<?xml") == 0) skip_past("?>");
      misc();
      if (at_end() || s_[i_] != '<') fail("no root element");
      element();
      misc();
      if (!at_end()) fail("content after the root element");
    } catch (const std::string& why) {
      doc_.error = why + " at byte " + std::to_string(i_);
    }
    return std::move(doc_);
  }

 private:
  [[noreturn]] void fail(const std::string& why) { throw why; }
  bool at_end() const { return i_ >= s_.size(); }
  bool starts(const char* p) const { return s_.compare(i_, std::strlen(p), p) == 0; }
  void skip_past(const char* end) {
    const auto at = s_.find(end, i_);
    if (at == std::string::npos) fail(std::string("unterminated construct, no ") + end);
    i_ = at + std::strlen(end);
  }
  void spaces() {
    while (!at_end() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  void misc() {
    for (;;) {
      spaces();
      if (starts("<!--")) skip_past("-->");
      else if (starts("<?")) skip_past("?>");
      else return;
    }
  }
  std::string name() {
    const std::size_t start = i_;
    auto ok_first = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':'; };
    auto ok = [&](char c) { return ok_first(c) || std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.'; };
    if (at_end() || !ok_first(s_[i_])) fail("expected a name");
    while (!at_end() && ok(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }
  // At '&': a predefined entity or a character reference, decoded (references as '?').
  std::string entity() {
    const auto end = s_.find(';', i_);
    if (end == std::string::npos || end - i_ > 10) fail("bare '&'");
    const std::string ref = s_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    static const std::map<std::string, std::string> known{
        {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
    if (auto it = known.find(ref); it != known.end()) return it->second;
    if (ref.size() > 1 && ref[0] == '#') {
      const bool hex = ref[1] == 'x';
      const std::string digits = ref.substr(hex ? 2 : 1);
      if (!digits.empty() && digits.find_first_not_of(hex ? "0123456789abcdefABCDEF" : "0123456789") ==
                                 std::string::npos)
        return "?";
    }
    fail("unknown entity &" + ref + ";");
  }
  void element() {
    ++i_;  // '<'
    Element e;
    e.name = name();
    for (;;) {
      const std::size_t before = i_;
      spaces();
      if (starts("/>") || starts(">")) break;
      if (i_ == before) fail("attributes must be separated by white space");
      const std::string attribute = name();
      spaces();
      if (at_end() || s_[i_] != '=') fail("attribute " + attribute + " has no '='");
      ++i_;
      spaces();
      if (at_end() || (s_[i_] != '"' && s_[i_] != '\'')) fail("attribute " + attribute + " is not quoted");
      const char quote = s_[i_++];
      std::string value;
      while (!at_end() && s_[i_] != quote) {
        if (s_[i_] == '<') fail("'<' in attribute " + attribute);
        if (s_[i_] == '&') value += entity();
        else value += s_[i_++];
      }
      if (at_end()) fail("unterminated attribute " + attribute);
      ++i_;
      if (!e.attributes.emplace(attribute, value).second) fail("repeated attribute " + attribute);
    }
    const std::size_t index = doc_.elements.size();
    doc_.elements.push_back(e);
    if (starts("/>")) {
      i_ += 2;
      return;
    }
    ++i_;  // '>'
    for (;;) {
      if (at_end()) fail("element <" + e.name + "> is never closed");
      if (starts("</")) {
        i_ += 2;
        if (name() != e.name) fail("mismatched closing tag for <" + e.name + ">");
        spaces();
        if (at_end() || s_[i_] != '>') fail("malformed closing tag");
        ++i_;
        return;
      }
      if (starts("<!--")) skip_past("-->");
      else if (starts("<![CDATA[")) skip_past("]]>");
      else if (s_[i_] == '<') element();
      else if (s_[i_] == '&') doc_.elements[index].text += entity();
      else if (starts("]]>")) fail("']]>' in text");
      else doc_.elements[index].text += s_[i_++];
    }
  }

  const std::string& s_;
  std::size_t i_ = 0;
  XmlDocument doc_;
};

inline XmlDocument parse_xml(const std::string& text) { return XmlChecker(text).run(); }

// The number of points in a series path: its M and L commands.
inline std::size_t path_points(const Element& path) {
  std::size_t n = 0;
  for (char c : path.attributes.at("d")) n += c == 'M' || c == 'L';
  return n;
}

inline HistoryTable table_of(const std::vector<std::pair<std::string, std::vector<double>>>& columns) {
  HistoryTable t;
  const std::size_t rows = columns.empty() ? 0 : columns[0].second.size();
  for (std::size_t r = 0; r < rows; ++r) {
    std::vector<std::pair<std::string, double>> row;
    for (const auto& [key, values] : columns) row.emplace_back(key, values[r]);
    t.set_row(static_cast<int>(r), row);
  }
  return t;
}

}  // namespace plugfit::test
