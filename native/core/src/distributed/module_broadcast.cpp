#include "asr/distributed/module_broadcast.h"

#include <vector>

namespace asr::distributed {

void broadcast_parameters_and_buffers(torch::nn::Module& module, ProcessGroup& group) {
  if (group.size() == 1) return;
  std::vector<torch::Tensor> tensors = module.parameters();
  for (const auto& b : module.buffers()) tensors.push_back(b);
  group.broadcast(std::move(tensors), 0);
}

void broadcast_buffers(torch::nn::Module& module, ProcessGroup& group) {
  if (group.size() == 1) return;
  auto buffers = module.buffers();
  if (!buffers.empty()) group.broadcast(std::move(buffers), 0);
}

}  // namespace asr::distributed
