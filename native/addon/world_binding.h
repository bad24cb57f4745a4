#pragma once
// The data-parallel surface for JS: exports.distributed, exports.joinWorld and the World class (a joined
// c10d process group), and the lookup Trainer.attachWorld uses. In a build without the layer (no Gloo
// headers), distributed is false and joinWorld / attachWorld reject with E_DISTRIBUTED saying how to get it.
#include <memory>
#include <string>

#include "asr/collectives.h"
#include "binding.h"

namespace asr_addon {

void RegisterWorld(Napi::Env env, Napi::Object exports);

// The collectives behind a JS World argument (E_INVALID_ARGUMENT for anything else; E_DISTRIBUTED in a
// build without the layer). Main thread.
std::shared_ptr<asr::Collectives> WorldCollectivesArg(const Napi::Value& value, const std::string& what);

}  // namespace asr_addon
