#include "async_writer.hpp"

namespace plugfit {

AsyncWriter::~AsyncWriter() {
  if (worker_.joinable()) worker_.join();
}

void AsyncWriter::wait() {
  if (worker_.joinable()) worker_.join();
  if (failure_) {
    std::exception_ptr failure = failure_;
    failure_ = nullptr;
    std::rethrow_exception(failure);
  }
}

void AsyncWriter::submit(std::function<void()> write) {
  wait();
  worker_ = std::thread([this, write = std::move(write)] {
    try {
      write();
    } catch (...) {
      failure_ = std::current_exception();
    }
  });
}

}  // namespace plugfit
