// World: joinWorld's rendezvous runs on a pool thread (it blocks until every rank arrives). Its collectives
// (barrier, anyRank, shareFromRank0) are queued on the compute thread when JS calls them, because the
// trainers' collectives run there: one queue keeps each rank's collectives in its JS call order, which is
// what keeps them matched across ranks.
#include "world_binding.h"

#include <future>
#include <utility>

#include "asr/compute_thread.h"
#include "asr/errors.h"
#ifdef ASR_WITH_DISTRIBUTED
#include "asr/distributed/process_group.h"
#include "asr/distributed/trainer_collectives.h"
#endif

namespace asr_addon {

#ifdef ASR_WITH_DISTRIBUTED

namespace {

using asr::distributed::ProcessGroup;

class WorldWrap : public Napi::ObjectWrap<WorldWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "World",
                       {
                           InstanceMethod<&WorldWrap::Barrier>("barrier"),
                           InstanceMethod<&WorldWrap::AnyRank>("anyRank"),
                           InstanceMethod<&WorldWrap::ShareFromRank0>("shareFromRank0"),
                           InstanceAccessor<&WorldWrap::Rank>("rank"),
                           InstanceAccessor<&WorldWrap::Size>("size"),
                           InstanceAccessor<&WorldWrap::Backend>("backend"),
                       });
  }

  explicit WorldWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WorldWrap>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      ThrowInvalid(info.Env(), "a World is made by joinWorld(options), not new");
    }
    group_ = *info[0].As<Napi::External<std::shared_ptr<ProcessGroup>>>().Data();
    collectives_ = asr::distributed::trainer_collectives(group_);
  }

  std::shared_ptr<asr::Collectives> collectives() const { return collectives_; }

 private:
  Napi::Value Rank(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), group_->rank()); }
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), group_->size()); }
  Napi::Value Backend(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), group_->backend()); }

  Napi::Value Barrier(const Napi::CallbackInfo& info);
  Napi::Value AnyRank(const Napi::CallbackInfo& info);
  Napi::Value ShareFromRank0(const Napi::CallbackInfo& info);

  std::shared_ptr<ProcessGroup> group_;
  std::shared_ptr<asr::Collectives> collectives_;
};

// One collective of a World: queued on the compute thread at construction (the JS call), awaited on a pool
// thread, its value built on the main thread. Holds the World object while it runs.
template <typename T>
class CollectiveJob : public AsyncJob {
 public:
  using Work = std::function<T()>;
  using ToJs = std::function<Napi::Value(Napi::Env, const T&)>;
  CollectiveJob(Napi::Env env, const char* name, Napi::Object owner, Work work, ToJs to_js)
      : AsyncJob(env, name), owner_(Napi::Persistent(owner)), to_js_(std::move(to_js)) {
    auto promise = std::make_shared<std::promise<T>>();
    result_ = promise->get_future();
    asr::post_to_compute_thread([promise, work = std::move(work)] {
      try {
        promise->set_value(work());
      } catch (...) {
        promise->set_exception(std::current_exception());
      }
    });
  }

 private:
  void Run() override { value_ = result_.get(); }
  Napi::Value Result(Napi::Env env) override { return to_js_(env, value_); }
  void Finish(Napi::Env) override { owner_.Reset(); }

  Napi::ObjectReference owner_;
  ToJs to_js_;
  std::future<T> result_;
  T value_{};
};

template <typename T>
Napi::Value StartCollective(Napi::Env env, const char* name, Napi::Object owner, std::function<T()> work,
                            typename CollectiveJob<T>::ToJs to_js) {
  return (new CollectiveJob<T>(env, name, owner, std::move(work), std::move(to_js)))->Start();
}

Napi::Value WorldWrap::Barrier(const Napi::CallbackInfo& info) {
  std::shared_ptr<ProcessGroup> group = group_;
  return StartCollective<bool>(
      info.Env(), "asr.World.barrier", info.This().As<Napi::Object>(),
      [group] {
        group->barrier();
        return true;
      },
      [](Napi::Env env, const bool&) { return env.Undefined(); });
}

Napi::Value WorldWrap::AnyRank(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBoolean()) ThrowInvalid(env, "anyRank(flag) needs a boolean");
  const bool flag = info[0].As<Napi::Boolean>().Value();
  std::shared_ptr<ProcessGroup> group = group_;
  return StartCollective<bool>(
      env, "asr.World.anyRank", info.This().As<Napi::Object>(),
      [group, flag] { return group->allreduce_max(flag ? 1 : 0) != 0; },
      [](Napi::Env e, const bool& any) { return Napi::Boolean::New(e, any); });
}

Napi::Value WorldWrap::ShareFromRank0(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string text;
  if (group_->rank() == 0) {
    text = StringArg(info[0], "shareFromRank0 text (rank 0 passes the text)");
  } else if (!info[0].IsNull() && !info[0].IsUndefined() && !info[0].IsString()) {
    ThrowInvalid(env, "shareFromRank0(text) takes a string or null");
  }
  std::shared_ptr<ProcessGroup> group = group_;
  return StartCollective<std::string>(
      env, "asr.World.shareFromRank0", info.This().As<Napi::Object>(),
      [group, text = std::move(text)] { return group->broadcast_string(text); },
      [](Napi::Env e, const std::string& shared) { return Napi::String::New(e, shared); });
}

class JoinJob : public AsyncJob {
 public:
  JoinJob(Napi::Env env, WorldRequest request) : AsyncJob(env, "asr.joinWorld"), request_(std::move(request)) {}

 private:
  void Run() override {
    asr::distributed::ProcessGroupOptions options;
    options.backend = request_.backend;
    options.timeout_s = request_.timeout_s;
    options.device = asr::distributed::device_for(request_.world, request_.device);
    group_ = std::make_shared<ProcessGroup>(request_.world, options);
  }
  Napi::Value Result(Napi::Env) override {
    // The external is only read during construction, so a stack pointer is enough.
    return Data(Env()).world.New({Napi::External<std::shared_ptr<ProcessGroup>>::New(Env(), &group_)});
  }

  WorldRequest request_;
  std::shared_ptr<ProcessGroup> group_;
};

Napi::Value JoinWorld(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WorldRequest request = WorldRequestFromJs(info[0]);
  if (request.device == "auto") request.device = torch::cuda::is_available() ? "cuda" : "cpu";
  return (new JoinJob(env, std::move(request)))->Start();
}

}  // namespace

void RegisterWorld(Napi::Env env, Napi::Object exports) {
  Data(env).world = Napi::Persistent(WorldWrap::Define(env));
  exports.DefineProperties({
      Napi::PropertyDescriptor::Value("distributed", Napi::Boolean::New(env, true), napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "joinWorld", JoinWorld, napi_enumerable),
  });
}

std::shared_ptr<asr::Collectives> WorldCollectivesArg(const Napi::Value& value, const std::string& what) {
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(Data(env).world.Value())) {
    ThrowInvalid(env, what + " must be a World (from joinWorld)");
  }
  return WorldWrap::Unwrap(value.As<Napi::Object>())->collectives();
}

#else  // !ASR_WITH_DISTRIBUTED

namespace {

constexpr const char* kNotBuilt =
    "this addon was built without the data-parallel layer: c10d's ProcessGroupGloo needs the Gloo headers, "
    "which were missing at build time. Fix: sudo apt-get install libgloo-dev, then rebuild the addon (npm run "
    "build:native)";

Napi::Value Rejected(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Promise::Deferred deferred = Napi::Promise::Deferred::New(env);
  deferred.Reject(MakeError(env, code, message));
  return deferred.Promise();
}

Napi::Value JoinWorld(const Napi::CallbackInfo& info) {
  return Rejected(info.Env(), asr::codes::kDistributed, std::string("joinWorld: ") + kNotBuilt);
}

}  // namespace

void RegisterWorld(Napi::Env env, Napi::Object exports) {
  exports.DefineProperties({
      Napi::PropertyDescriptor::Value("distributed", Napi::Boolean::New(env, false), napi_enumerable),
      Napi::PropertyDescriptor::Function(env, exports, "joinWorld", JoinWorld, napi_enumerable),
  });
}

std::shared_ptr<asr::Collectives> WorldCollectivesArg(const Napi::Value& value, const std::string&) {
  Throw(value.Env(), asr::codes::kDistributed, std::string("attachWorld: ") + kNotBuilt);
}

#endif

}  // namespace asr_addon
