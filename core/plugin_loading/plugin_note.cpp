#include "plugin_note.hpp"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <plugfit/plugin.hpp>

#include "loader.hpp"

namespace plugfit {

namespace {

constexpr std::size_t kMaxProgramHeaders = 256;
constexpr std::uint64_t kMaxNoteSegment = 64 * 1024;

class ReadOnlyFile {
 public:
  explicit ReadOnlyFile(const std::string& path) : path_(path), fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
    if (fd_ < 0) throw PluginError("plugin file " + path + " cannot be opened: " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd_);
      throw PluginError("plugin file " + path + " is not a regular file");
    }
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
  ~ReadOnlyFile() { ::close(fd_); }
  ReadOnlyFile(const ReadOnlyFile&) = delete;
  ReadOnlyFile& operator=(const ReadOnlyFile&) = delete;

  std::uint64_t size() const { return size_; }
  // The bytes [offset, offset + count), which the caller has checked lie inside the file.
  void read(std::uint64_t offset, void* out, std::size_t count) const {
    auto* bytes = static_cast<char*>(out);
    while (count > 0) {
      const ssize_t got = ::pread(fd_, bytes, count, static_cast<off_t>(offset));
      if (got <= 0) throw PluginError("plugin file " + path_ + " cannot be read");
      bytes += got;
      offset += static_cast<std::uint64_t>(got);
      count -= static_cast<std::size_t>(got);
    }
  }
  bool holds(std::uint64_t offset, std::uint64_t count) const { return offset <= size_ && count <= size_ - offset; }

 private:
  std::string path_;
  int fd_;
  std::uint64_t size_ = 0;
};

std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment) { return (value + alignment - 1) / alignment * alignment; }

// The plugfit note among the notes of one PT_NOTE segment, if there.
std::optional<PluginNote> find_in_segment(const std::vector<char>& segment, std::uint64_t alignment,
                                          const std::string& path) {
  const auto malformed = [&] { return PluginError("plugin file " + path + " has a malformed .note.plugfit"); };
  std::uint64_t at = 0;
  while (segment.size() - at >= sizeof(Elf64_Nhdr)) {
    Elf64_Nhdr header{};
    std::memcpy(&header, segment.data() + at, sizeof header);
    const std::uint64_t owner_at = at + sizeof header;
    const std::uint64_t desc_at = owner_at + align_up(header.n_namesz, alignment);
    const std::uint64_t next = desc_at + align_up(header.n_descsz, alignment);
    if (header.n_namesz > segment.size() || header.n_descsz > segment.size() || next > segment.size()) return std::nullopt;
    const bool ours = header.n_namesz == sizeof "plugfit" &&
                      std::memcmp(segment.data() + owner_at, "plugfit", sizeof "plugfit") == 0;
    if (ours && header.n_type == PLUGFIT_PLUGIN_NOTE_TYPE) {
      if (header.n_descsz < 2 * sizeof(std::uint32_t)) throw malformed();
      PluginNote note;
      std::memcpy(&note.abi_major, segment.data() + desc_at, sizeof note.abi_major);
      std::memcpy(&note.abi_minor, segment.data() + desc_at + sizeof note.abi_major, sizeof note.abi_minor);
      // text: toolchain '\0' name '\0' version '\0'.
      const char* text = segment.data() + desc_at + 2 * sizeof(std::uint32_t);
      const std::size_t text_size = header.n_descsz - 2 * sizeof(std::uint32_t);
      std::string* fields[] = {&note.toolchain, &note.name, &note.version};
      std::size_t start = 0;
      for (std::string* field : fields) {
        const void* end = text_size > start ? std::memchr(text + start, '\0', text_size - start) : nullptr;
        if (end == nullptr) throw malformed();
        const auto length = static_cast<std::size_t>(static_cast<const char*>(end) - (text + start));
        field->assign(text + start, length);
        start += length + 1;
      }
      return note;
    }
    at = next;
  }
  return std::nullopt;
}

}  // namespace

std::optional<PluginNote> read_plugin_note(const std::string& path) {
  const ReadOnlyFile file(path);
  const PluginError not_a_library("plugin file " + path + " is not a 64-bit little-endian ELF shared library");
  Elf64_Ehdr elf{};
  if (!file.holds(0, sizeof elf)) throw not_a_library;
  file.read(0, &elf, sizeof elf);
  if (std::memcmp(elf.e_ident, ELFMAG, SELFMAG) != 0 || elf.e_ident[EI_CLASS] != ELFCLASS64 ||
      elf.e_ident[EI_DATA] != ELFDATA2LSB || elf.e_type != ET_DYN || elf.e_phentsize != sizeof(Elf64_Phdr) ||
      elf.e_phnum > kMaxProgramHeaders || !file.holds(elf.e_phoff, std::uint64_t{elf.e_phnum} * sizeof(Elf64_Phdr)))
    throw not_a_library;
  std::vector<Elf64_Phdr> program_headers(elf.e_phnum);
  file.read(elf.e_phoff, program_headers.data(), program_headers.size() * sizeof(Elf64_Phdr));
  for (const Elf64_Phdr& segment : program_headers) {
    if (segment.p_type != PT_NOTE || segment.p_filesz > kMaxNoteSegment || !file.holds(segment.p_offset, segment.p_filesz))
      continue;
    std::vector<char> bytes(segment.p_filesz);
    file.read(segment.p_offset, bytes.data(), bytes.size());
    if (auto note = find_in_segment(bytes, segment.p_align == 8 ? 8 : 4, path)) return note;
  }
  return std::nullopt;
}

}  // namespace plugfit
