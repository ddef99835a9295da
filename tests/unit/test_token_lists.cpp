// tokens: data specs: variable-length token lists padded and truncated as Keras's pad_sequences
// (the expected arrays are the examples of Keras's pad_sequences documentation), labels, errors.
#include <doctest/doctest.h>

#include "dataset_test_support.hpp"

using namespace dataset_test;

namespace {

// The rows of d.x as integers.
std::vector<std::vector<int>> rows(const Dataset& d) {
  std::vector<std::vector<int>> out(d.x.shape()[0]);
  for (std::size_t i = 0; i < out.size(); ++i)
    for (std::size_t t = 0; t < d.x.shape()[1]; ++t) out[i].push_back(static_cast<int>(d.x(i, t)));
  return out;
}

using Rows = std::vector<std::vector<int>>;

}  // namespace

TEST_CASE("tokens: pads and truncates as pad_sequences' documented examples") {
  TempDir dir;
  const std::string path = dir.file("seqs.txt");
  // Keras's example sequences [[1], [2, 3], [4, 5, 6]], labels first; blanks and commas separate.
  write_file(path, "0 1\n1\t2,3\r\n\n2 4 5 6\n");
  const auto load = [&](const std::string& options) { return plugfit::load_dataset("tokens:" + path + options); };
  const Dataset d = load("");
  CHECK(d.spec == "tokens:" + path);
  CHECK(rows(d) == Rows{{0, 0, 1}, {0, 2, 3}, {4, 5, 6}});
  REQUIRE(d.y.shape()[0] == 3);
  CHECK((d.y(0) == 0.f && d.y(1) == 1.f && d.y(2) == 2.f));
  CHECK(rows(load(",value=-1")) == Rows{{-1, -1, 1}, {-1, 2, 3}, {4, 5, 6}});
  CHECK(rows(load(",padding=post")) == Rows{{1, 0, 0}, {2, 3, 0}, {4, 5, 6}});
  CHECK(rows(load(",maxlen=2")) == Rows{{0, 1}, {2, 3}, {5, 6}});
  CHECK(rows(load(",maxlen=2,truncating=post")) == Rows{{0, 1}, {2, 3}, {4, 5}});
  CHECK(rows(load(",maxlen=4,padding=post,value=9")) == Rows{{1, 9, 9, 9}, {2, 3, 9, 9}, {4, 5, 6, 9}});
  // label=none: every integer is a token (predict's inputs), and no labels.
  const Dataset inputs = load(",label=none");
  CHECK(rows(inputs) == Rows{{0, 0, 0, 1}, {0, 1, 2, 3}, {2, 4, 5, 6}});
  CHECK(!inputs.has_labels());
}

TEST_CASE("tokens: a list with no tokens is all padding, ids stay exact below 2^24") {
  TempDir dir;
  const std::string path = dir.file("seqs.txt");
  write_file(path, "3\n1 16777215 7\n");
  const Dataset d = plugfit::load_dataset("tokens:" + path);
  CHECK(rows(d) == Rows{{0, 0}, {16777215, 7}});
  CHECK(d.y(0) == 3.f);
}

TEST_CASE("tokens: bad files and options are named") {
  TempDir dir;
  const std::string path = dir.file("seqs.txt");
  write_file(path, "0 1 2\n1 3 x4\n");
  const auto error = [](const std::string& spec) {
    try {
      plugfit::load_dataset(spec);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error("tokens:" + path) ==
        "token file " + path + ": line 2, item 3 holds \"x4\", which is not an integer");
  CHECK(error("tokens:" + dir.file("none.txt")) == "token file " + dir.file("none.txt") + " does not exist");
  CHECK(error("tokens:") == "data spec \"tokens:\" names no token file (use tokens:PATH[,maxlen=N][,padding=pre|post]"
                            "[,truncating=pre|post][,value=V][,label=first|none])");
  write_file(path, "0 1 2\n");
  const std::string spec = "tokens:" + path, at = "token spec for " + path;
  CHECK(error(spec + ",maxlen=0") == at + " has maxlen=0, which is not a positive integer");
  CHECK(error(spec + ",padding=both") == at + " has padding=both (use padding=pre or padding=post)");
  CHECK(error(spec + ",value=0.5") == at + " has value=0.5, which is not an integer (the padding token id)");
  CHECK(error(spec + ",label=last") == at + " has label=last (use label=first or label=none)");
  CHECK(error(spec + ",dtype=int32") ==
        at + " has the unknown option \"dtype\" (known: maxlen, padding, truncating, value, label)");
  write_file(path, "\n\n");
  CHECK(error(spec) == "token file " + path + " has no samples");
  write_file(path, "1\n2\n");
  CHECK(error(spec) == "token file " + path + " holds no tokens, only labels (give maxlen=N for lists of padding)");
}
