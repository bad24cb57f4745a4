// asr::descriptor_channel, send_descriptor, receive_descriptor (declared in asr/file_lock.h): the
// SCM_RIGHTS plumbing that hands the checkpoint folder's lock to a trainer started before it was taken.
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "asr/errors.h"
#include "asr/file_lock.h"

namespace asr {
namespace {

[[noreturn]] void throw_io(const std::string& what, int error) {
  throw Error(codes::kIo, what + ": " + std::strerror(error));
}

// One byte of payload: a stream socket carries ancillary data only alongside some data.
constexpr char kMarker = 'L';

// A message of that byte with room for one descriptor, laid out as sendmsg and recvmsg take it.
struct DescriptorMessage {
  char payload = kMarker;
  iovec data{&payload, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{};

  DescriptorMessage() {
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof(control);
  }
  DescriptorMessage(const DescriptorMessage&) = delete;
  DescriptorMessage& operator=(const DescriptorMessage&) = delete;
};

}  // namespace

std::pair<int, int> descriptor_channel() {
  int ends[2] = {-1, -1};
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    throw_io("Cannot create a socket pair to hand over the lock", errno);
  }
  return {ends[0], ends[1]};
}

void send_descriptor(int socket, int fd) {
  DescriptorMessage message;
  cmsghdr* header = CMSG_FIRSTHDR(&message.header);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
  // MSG_NOSIGNAL: a trainer that died makes this an EPIPE error, not a SIGPIPE that ends the server.
  while (sendmsg(socket, &message.header, MSG_NOSIGNAL) != 1) {
    if (errno != EINTR) throw_io("Cannot send descriptor " + std::to_string(fd) + " to the trainer", errno);
  }
}

int receive_descriptor(int socket, int timeout_ms) {
  pollfd ready{socket, POLLIN, 0};
  int polled = 0;
  while ((polled = poll(&ready, 1, timeout_ms)) < 0) {
    if (errno != EINTR) throw_io("Cannot wait for the lock's descriptor", errno);
  }
  if (polled == 0) {
    throw Error(codes::kIo, "No lock descriptor arrived within " + std::to_string(timeout_ms) + " ms");
  }
  DescriptorMessage message;
  ssize_t received = 0;
  while ((received = recvmsg(socket, &message.header, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno != EINTR) throw_io("Cannot receive the lock's descriptor", errno);
  }
  if (received == 0) throw Error(codes::kIo, "The server closed the channel before handing over the lock");
  const cmsghdr* header = CMSG_FIRSTHDR(&message.header);
  if ((message.header.msg_flags & MSG_CTRUNC) != 0 || header == nullptr || header->cmsg_level != SOL_SOCKET ||
      header->cmsg_type != SCM_RIGHTS || header->cmsg_len != CMSG_LEN(sizeof(int))) {
    throw Error(codes::kIo, "The message on the lock channel carried no descriptor");
  }
  int fd = -1;
  std::memcpy(&fd, CMSG_DATA(header), sizeof(int));
  return fd;
}

}  // namespace asr
