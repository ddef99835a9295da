// isolated_read.hpp: the stamp of plugfit's own HDF5 files, and the child process that reads
// every other file: results and errors come back whole, a crash, a hang or a flood of bytes
// becomes one sentence, and the child cannot write files or start programs.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <plugfit/sdk.hpp>

#include "isolated_read.hpp"
#include "keras_file.hpp"

using namespace plugfit;
using namespace plugfit_hdf5;
namespace fs = std::filesystem;

namespace {

struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("isolated_read_" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(dir); }
  ~Scratch() { fs::remove_all(dir); }
};

StoredCheckpoint sample_checkpoint() {
  StoredCheckpoint c;
  c.name = "ckpt-0007";
  c.save_seq = 7;
  c.written_by_plugfit = true;
  c.record.info = {{"epoch", 3}, {"note", "x"}};
  c.record.tensors.push_back({"weights/dense/kernel", {2, 3}, {1, 2, 3, 4, 5, 6}});
  c.record.tensors.push_back({"weights/dense/bias", {0}, {}});
  return c;
}

fs::path some_file(const Scratch& scratch) {
  const fs::path path = scratch.dir / "file.h5";
  std::ofstream(path) << "not read by these tests' readers";
  return path;
}

}  // namespace

TEST_CASE("what the child read comes back whole; what it threw comes back as the same kind and sentence") {
  const Scratch scratch;
  const fs::path path = some_file(scratch);
  const StoredCheckpoint back = read_in_child(path, "f.h5", [] { return sample_checkpoint(); });
  const StoredCheckpoint want = sample_checkpoint();
  CHECK(back.name == want.name);
  CHECK(back.save_seq == want.save_seq);
  CHECK(back.written_by_plugfit);
  CHECK(back.record.info == want.record.info);
  CHECK(back.record.tensors == want.record.tensors);
  CHECK_THROWS_WITH_AS(read_in_child(path, "f.h5", []() -> StoredCheckpoint { throw InputError("f.h5 is no Keras file"); }),
                       "f.h5 is no Keras file", InputError);
  CHECK_THROWS_WITH_AS(read_in_child(path, "f.h5", []() -> StoredCheckpoint { throw CheckpointCorrupt("f.h5 is corrupt"); }),
                       "f.h5 is corrupt", CheckpointCorrupt);
  CHECK_THROWS_WITH_AS(read_in_child(path, "f.h5", []() -> StoredCheckpoint { throw RuntimeFailure("disk gone"); }),
                       "disk gone", RuntimeFailure);
}

TEST_CASE("a child that crashes, hangs or runs out of memory is one sentence naming the file") {
  const Scratch scratch;
  const fs::path path = some_file(scratch);
  CHECK_THROWS_WITH_AS(read_in_child(path, "f.h5", []() -> StoredCheckpoint {
                         ::raise(SIGSEGV);
                         return {};
                       }),
                       "f.h5 is damaged or crafted: the HDF5 library crashed reading it (signal SIGSEGV, in a separate process)",
                       InputError);
  ::setenv("PLUGFIT_FOREIGN_READ_SECONDS", "1", 1);
  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_WITH_AS(read_in_child(path, "f.h5", []() -> StoredCheckpoint {
                         for (;;) ::pause();
                       }),
                       "f.h5 is damaged or crafted: the HDF5 library was still reading it after 1 s (in a separate process, "
                       "now stopped; PLUGFIT_FOREIGN_READ_SECONDS gives it longer)",
                       InputError);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  ::unsetenv("PLUGFIT_FOREIGN_READ_SECONDS");
  // The memory limit: 1 GiB plus 16 times the file's size on top of what the process has (under
  // AddressSanitizer its allocator ends the child instead of throwing: another sentence).
#ifdef __SANITIZE_ADDRESS__
  const auto out_of_memory = doctest::Contains("f.h5 is damaged or crafted: ");
#else
  const auto out_of_memory = doctest::Contains("f.h5 needs more memory to read than plugfit allows a file it did not write");
#endif
  CHECK_THROWS_WITH_AS(read_in_child(path, "f.h5", []() -> StoredCheckpoint {
                         std::vector<char> huge(std::size_t{8} << 30);
                         huge[12345] = 1;
                         StoredCheckpoint c;
                         c.name = std::to_string(huge[12345]);
                         return c;
                       }),
                       out_of_memory, InputError);
}

TEST_CASE("the child cannot write or remove files, or start programs (where the kernel has seccomp)") {
  const Scratch scratch;
  const fs::path path = some_file(scratch);
  const fs::path target = scratch.dir / "written-by-child";
  const StoredCheckpoint back = read_in_child(path, "f.h5", [&] {
    StoredCheckpoint c;
    const int fd = ::open(target.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    const int open_errno = errno;
    const int unlinked = ::unlink(path.c_str());
    const int unlink_errno = errno;
    const int reading = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    c.name = std::to_string(fd < 0 ? open_errno : 0) + " " + std::to_string(unlinked < 0 ? unlink_errno : 0) + " " +
             std::to_string(reading >= 0);
    return c;
  });
  CHECK(back.name == std::to_string(EPERM) + " " + std::to_string(EPERM) + " 1");
  CHECK_FALSE(fs::exists(target));
  CHECK(fs::exists(path));
}

TEST_CASE("a stamp holds for the file plugfit wrote, not after a change of one byte or of its size") {
  const Scratch scratch;
  const fs::path path = scratch.dir / "m.h5";
  write_keras_file(path, KerasFormat::legacy_h5, sample_checkpoint());
  CHECK(stamp_holds(path));
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(fs::file_size(path) / 2));
    char c = 0;
    f.read(&c, 1);
    f.seekp(static_cast<std::streamoff>(fs::file_size(path) / 2));
    c = static_cast<char>(c ^ 0x10);
    f.write(&c, 1);
  }
  CHECK_FALSE(stamp_holds(path));
  const fs::path grown = scratch.dir / "grown.h5";
  write_keras_file(grown, KerasFormat::weights_h5, sample_checkpoint());
  CHECK(stamp_holds(grown));
  std::ofstream(grown, std::ios::app) << "x";
  CHECK_FALSE(stamp_holds(grown));
  CHECK_FALSE(stamp_holds(scratch.dir / "missing.h5"));
}

TEST_CASE("a stamped file reads in process; a damaged one is read by the child and still whole when it can be") {
  const Scratch scratch;
  const fs::path path = scratch.dir / "m.h5";
  write_keras_file(path, KerasFormat::legacy_h5, sample_checkpoint());
  const StoredCheckpoint in_process = read_keras_file(path, "m.h5");
  CHECK(in_process.record.tensors == sample_checkpoint().record.tensors);
  // A stamp that no longer holds (the file grew): the same content, read through the child.
  std::ofstream(path, std::ios::app) << "tail";
  CHECK_FALSE(stamp_holds(path));
  const StoredCheckpoint via_child = read_keras_file(path, "m.h5");
  CHECK(via_child.record.tensors == sample_checkpoint().record.tensors);
  CHECK(via_child.name == "ckpt-0007");
}
