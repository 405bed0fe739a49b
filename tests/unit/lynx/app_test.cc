// The lynx host: plugin creation by config prefix, start order (dependencies, then weight), the
// lifecycle and its rollback, lookups by name and type, runtime resources, configuration loading
// and ConfigNode's typed getters (lynx-dtm-plugin.md section 1).
#include <lynx/app.h>

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace lynx {
namespace {

// gtest's own predicate form prints both strings on failure; gmock is not linked.
bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

using Log = std::vector<std::string>;

// What a fake plugin does; every lifecycle call is recorded as "<name>.<step>" in a shared log.
struct Spec {
  std::string name{};
  std::string prefix{};
  int weight = 0;
  std::vector<std::string> dependencies{};
  std::string fail_in{};   // "InitializeResources", "StartupTasks", "CheckHealth" or "CleanupTasks"
  std::string throw_in{};  // the same, but throwing std::runtime_error
  std::function<Status(Runtime&)> on_startup{};  // runs in StartupTasks with the plugin's runtime
  std::string reported_name{};                   // Name() when it should differ from `name`
};

class FakePlugin : public Plugin {
 public:
  FakePlugin(Spec spec, std::shared_ptr<Log> log) : spec_(std::move(spec)), log_(std::move(log)) {
    Record("create");
  }
  ~FakePlugin() override { Record("destroy"); }

  std::string Name() const override {
    return spec_.reported_name.empty() ? spec_.name : spec_.reported_name;
  }
  std::string ConfigPrefix() const override { return spec_.prefix; }
  int Weight() const override { return spec_.weight; }
  std::vector<std::string> Dependencies() const override { return spec_.dependencies; }

  Status InitializeResources(Runtime& runtime) override {
    runtime_ = &runtime;
    return Step("InitializeResources");
  }
  Status StartupTasks() override {
    Status st = Step("StartupTasks");
    if (st.ok() && spec_.on_startup) st = spec_.on_startup(*runtime_);
    return st;
  }
  Status CheckHealth() override { return Step("CheckHealth"); }
  Status CleanupTasks() override { return Step("CleanupTasks"); }

  Runtime* runtime() const { return runtime_; }

 private:
  void Record(const std::string& step) { log_->push_back(spec_.name + "." + step); }
  Status Step(const std::string& step) {
    Record(step);
    if (spec_.throw_in == step) throw std::runtime_error("boom in " + step);
    if (spec_.fail_in == step) return Status::Unavailable(step + " refused");
    return Status::Ok();
  }

  Spec spec_;
  std::shared_ptr<Log> log_;
  Runtime* runtime_ = nullptr;
};

class DerivedFakePlugin : public FakePlugin {
 public:
  using FakePlugin::FakePlugin;
};

// A plugin type no fake is, for wrong-type lookups.
class UnrelatedPlugin : public Plugin {
 public:
  std::string Name() const override { return "unrelated"; }
  std::string ConfigPrefix() const override { return "lynx.unrelated"; }
  Status InitializeResources(Runtime&) override { return Status::Ok(); }
  Status StartupTasks() override { return Status::Ok(); }
  Status CheckHealth() override { return Status::Ok(); }
  Status CleanupTasks() override { return Status::Ok(); }
};

class AppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("lynx-app-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  template <class P = FakePlugin>
  void Add(App& app, Spec spec) {
    std::shared_ptr<Log> log = log_;
    std::string name = spec.name;
    std::string prefix = spec.prefix;
    Status st = app.registry().Register(
        name, prefix, [spec = std::move(spec), log] { return std::make_unique<P>(spec, log); });
    ASSERT_TRUE(st.ok()) << st.message();
  }

  // The log entries of one step, e.g. Steps("CleanupTasks") -> {"b", "a"}.
  std::vector<std::string> Steps(const std::string& step) const {
    std::vector<std::string> names;
    const std::string suffix = "." + step;
    for (const std::string& event : *log_) {
      if (event.size() > suffix.size() &&
          event.compare(event.size() - suffix.size(), suffix.size(), suffix) == 0) {
        names.push_back(event.substr(0, event.size() - suffix.size()));
      }
    }
    return names;
  }

  std::string WriteFile(const std::string& text) {
    std::filesystem::path path = dir_ / "config.yaml";
    std::ofstream(path) << text;
    return path.string();
  }

  std::shared_ptr<Log> log_ = std::make_shared<Log>();
  std::filesystem::path dir_;
};

using Names = std::vector<std::string>;

constexpr char kAbcConfig[] = R"(
lynx:
  a: {}
  b:
    x: 1
  c:
)";

// --- creation -----------------------------------------------------------------------------

TEST_F(AppTest, CreatesOnlyPluginsWhosePrefixExists) {
  App app = App::FromString(R"(
lynx:
  dtm:
  http:
    port: 8080
)");
  Add(app, {.name = "dtm.server", .prefix = "lynx.dtm"});  // `dtm:` with no value still counts
  Add(app, {.name = "http", .prefix = "lynx.http"});
  Add(app, {.name = "redis", .prefix = "lynx.redis"});
  Status st = app.Start();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(Steps("create"), (Names{"dtm.server", "http"}));
  EXPECT_EQ(app.StartedPlugins(), (Names{"dtm.server", "http"}));
  EXPECT_EQ(Steps("CheckHealth"), (Names{"dtm.server", "http"}));
}

TEST_F(AppTest, ConfigWithoutPrefixCreatesNothingAndStarts) {
  App app = App::FromString("server:\n  port: 1\nlynx:\n  other: 1\n");
  Add(app, {.name = "dtm.server", .prefix = "lynx.dtm"});
  Status st = app.Start();
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_TRUE(log_->empty());
  EXPECT_TRUE(app.StartedPlugins().empty());
}

TEST_F(AppTest, EmptyConfigAndNoPluginsStart) {
  App app = App::FromString("");
  EXPECT_TRUE(app.Start().ok());
  EXPECT_TRUE(app.config().Exists());
}

TEST_F(AppTest, DuplicateRegistrationIsRejected) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a"});
  Status st =
      app.registry().Register("a", "lynx.b", [] { return std::make_unique<UnrelatedPlugin>(); });
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_PRED2(Contains, st.message(), "\"a\" is already registered");
  EXPECT_EQ(app.registry().entries().size(), 1u);

  EXPECT_FALSE(app.registry().Register("", "lynx.x", [] { return nullptr; }).ok());
  EXPECT_FALSE(app.registry().Register("x", "", [] { return nullptr; }).ok());
  EXPECT_FALSE(app.registry().Register("x", "lynx.x", nullptr).ok());
}

TEST_F(AppTest, NameDifferentFromRegistrationFailsStart) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a", .reported_name = "alpha"});
  Status st = app.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_PRED2(Contains, st.message(), "\"alpha\"");
  EXPECT_PRED2(Contains, st.message(), "registered as \"a\"");
}

TEST_F(AppTest, FactoryReturningNullFailsStart) {
  App app = App::FromString(kAbcConfig);
  ASSERT_TRUE(app.registry().Register("a", "lynx.a", [] { return nullptr; }).ok());
  Status st = app.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_PRED2(Contains, st.message(), "plugin \"a\" factory failed");
}

// --- order --------------------------------------------------------------------------------

TEST_F(AppTest, StartsByWeightAndStopsInReverse) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a", .weight = 10});
  Add(app, {.name = "b", .prefix = "lynx.b", .weight = 90});
  Add(app, {.name = "c", .prefix = "lynx.c", .weight = 50});
  ASSERT_TRUE(app.Start().ok());
  EXPECT_EQ(app.StartedPlugins(), (Names{"b", "c", "a"}));
  // Each plugin completes its three steps before the next begins.
  EXPECT_EQ(*log_,
            (Names{"a.create", "b.create", "c.create", "b.InitializeResources", "b.StartupTasks",
                   "b.CheckHealth", "c.InitializeResources", "c.StartupTasks", "c.CheckHealth",
                   "a.InitializeResources", "a.StartupTasks", "a.CheckHealth"}));
  app.Stop();
  EXPECT_EQ(Steps("CleanupTasks"), (Names{"a", "c", "b"}));
  EXPECT_TRUE(app.StartedPlugins().empty());
}

TEST_F(AppTest, EqualWeightsKeepRegistrationOrder) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "c", .prefix = "lynx.c"});
  Add(app, {.name = "a", .prefix = "lynx.a"});
  Add(app, {.name = "b", .prefix = "lynx.b"});
  ASSERT_TRUE(app.Start().ok());
  EXPECT_EQ(app.StartedPlugins(), (Names{"c", "a", "b"}));
}

TEST_F(AppTest, DependencyStartsBeforeAHeavierDependent) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a", .weight = 100, .dependencies = {"b"}});
  Add(app, {.name = "b", .prefix = "lynx.b", .weight = 1});
  Add(app, {.name = "c", .prefix = "lynx.c", .weight = 50});
  ASSERT_TRUE(app.Start().ok());
  // b must precede a despite a's weight; among the ready ones the heavier c goes first.
  EXPECT_EQ(app.StartedPlugins(), (Names{"c", "b", "a"}));
  app.Stop();
  EXPECT_EQ(Steps("CleanupTasks"), (Names{"a", "b", "c"}));
}

TEST_F(AppTest, ChainedDependenciesStartInDependencyOrder) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a", .weight = 90, .dependencies = {"b", "b"}});
  Add(app, {.name = "b", .prefix = "lynx.b", .weight = 80, .dependencies = {"c"}});
  Add(app, {.name = "c", .prefix = "lynx.c", .weight = 0});
  ASSERT_TRUE(app.Start().ok());
  EXPECT_EQ(app.StartedPlugins(), (Names{"c", "b", "a"}));
}

TEST_F(AppTest, UnknownDependencyIsReportedAndNothingStarts) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a"});
  Add(app, {.name = "b", .prefix = "lynx.b", .dependencies = {"a", "mysql"}});
  Status st = app.Start();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_PRED2(Contains, st.message(),
               "plugin \"b\" depends on \"mysql\", which is not registered");
  EXPECT_TRUE(Steps("InitializeResources").empty());
  EXPECT_TRUE(app.StartedPlugins().empty());
}

TEST_F(AppTest, DependencyOnANotCreatedPluginNamesItsPrefix) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a", .dependencies = {"redis"}});
  Add(app, {.name = "redis", .prefix = "lynx.redis"});
  Status st = app.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_PRED2(Contains, st.message(), "plugin \"a\" depends on \"redis\", which was not created");
  EXPECT_PRED2(Contains, st.message(), "\"lynx.redis\"");
  EXPECT_TRUE(Steps("InitializeResources").empty());
}

TEST_F(AppTest, DependencyCycleIsReportedWithItsPlugins) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a", .dependencies = {"b"}});
  Add(app, {.name = "b", .prefix = "lynx.b", .dependencies = {"c"}});
  Add(app, {.name = "c", .prefix = "lynx.c", .dependencies = {"a"}});
  Status st = app.Start();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_PRED2(Contains, st.message(), "dependency cycle");
  EXPECT_PRED2(Contains, st.message(), "\"a\" -> \"b\" -> \"c\" -> \"a\"");
  EXPECT_TRUE(Steps("InitializeResources").empty());
}

TEST_F(AppTest, SelfDependencyIsACycle) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a"});
  Add(app, {.name = "b", .prefix = "lynx.b", .dependencies = {"b"}});
  Add(app, {.name = "c", .prefix = "lynx.c", .dependencies = {"b"}});
  Status st = app.Start();
  EXPECT_PRED2(Contains, st.message(), "\"b\" -> \"b\"");
  EXPECT_PRED2(Contains, st.message(), "cannot start: \"b\", \"c\"");
  EXPECT_TRUE(Steps("InitializeResources").empty());
}

// --- lifecycle failures -------------------------------------------------------------------

class FailingStepTest : public AppTest {
 protected:
  // a (90), b (50), c (10, failing in `step`), d (0): a and b start, c fails, d never starts.
  Status StartWithFailureIn(const std::string& step) {
    app_ = std::make_unique<App>(App::FromString("lynx: {a: 1, b: 2, c: 3, d: 4}"));
    Add(*app_, {.name = "a", .prefix = "lynx.a", .weight = 90});
    Add(*app_, {.name = "b", .prefix = "lynx.b", .weight = 50});
    Add(*app_, {.name = "c", .prefix = "lynx.c", .weight = 10, .fail_in = step});
    Add(*app_, {.name = "d", .prefix = "lynx.d", .weight = 0});
    return app_->Start();
  }
  std::unique_ptr<App> app_;
};

TEST_F(FailingStepTest, StartupTasksFailureCleansUpStartedPluginsInReverse) {
  Status st = StartWithFailureIn("StartupTasks");
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);  // the plugin's own code is kept
  EXPECT_PRED2(Contains, st.message(), "plugin \"c\" StartupTasks failed: StartupTasks refused");
  EXPECT_EQ(Steps("StartupTasks"), (Names{"a", "b", "c"}));
  EXPECT_EQ(Steps("CleanupTasks"), (Names{"b", "a"}));
  EXPECT_TRUE(Steps("CheckHealth") == (Names{"a", "b"}));
  EXPECT_TRUE(Steps("InitializeResources") == (Names{"a", "b", "c"}));
  EXPECT_TRUE(app_->StartedPlugins().empty());
  app_->Stop();
  app_.reset();
  EXPECT_EQ(Steps("CleanupTasks"), (Names{"b", "a"}));  // nothing cleaned twice
  EXPECT_EQ(Steps("destroy"), (Names{"d", "c", "b", "a"}));
}

TEST_F(FailingStepTest, CheckHealthFailureAlsoCleansUpTheFailingPlugin) {
  Status st = StartWithFailureIn("CheckHealth");
  EXPECT_PRED2(Contains, st.message(), "plugin \"c\" CheckHealth failed");
  // c's StartupTasks succeeded, so it holds resources that only its CleanupTasks releases.
  EXPECT_EQ(Steps("CleanupTasks"), (Names{"c", "b", "a"}));
  EXPECT_TRUE(Steps("InitializeResources") == (Names{"a", "b", "c"}));
}

TEST_F(FailingStepTest, InitializeResourcesFailureCleansUpStartedPluginsInReverse) {
  Status st = StartWithFailureIn("InitializeResources");
  EXPECT_PRED2(Contains, st.message(), "plugin \"c\" InitializeResources failed");
  EXPECT_EQ(Steps("StartupTasks"), (Names{"a", "b"}));
  EXPECT_EQ(Steps("CleanupTasks"), (Names{"b", "a"}));
}

TEST_F(AppTest, CleanupFailureDuringRollbackIsAppendedToTheError) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a", .weight = 2, .fail_in = "CleanupTasks"});
  Add(app, {.name = "b", .prefix = "lynx.b", .weight = 1, .fail_in = "StartupTasks"});
  Status st = app.Start();
  EXPECT_PRED2(Contains, st.message(), "plugin \"b\" StartupTasks failed");
  EXPECT_PRED2(Contains, st.message(), "then plugin \"a\" CleanupTasks failed");
}

TEST_F(AppTest, ThrowingPluginIsReportedAndRolledBack) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a", .weight = 2});
  Add(app, {.name = "b", .prefix = "lynx.b", .weight = 1, .throw_in = "StartupTasks"});
  Status st = app.Start();
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_PRED2(Contains, st.message(), "plugin \"b\" StartupTasks failed");
  EXPECT_PRED2(Contains, st.message(), "boom in StartupTasks");
  EXPECT_EQ(Steps("CleanupTasks"), (Names{"a"}));
}

TEST_F(AppTest, StartRunsOnce) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a"});
  ASSERT_TRUE(app.Start().ok());
  Status again = app.Start();
  EXPECT_EQ(again.code(), StatusCode::kInvalidArgument);
  EXPECT_PRED2(Contains, again.message(), "only once");
  EXPECT_EQ(Steps("InitializeResources"), (Names{"a"}));
}

// --- stop ---------------------------------------------------------------------------------

TEST_F(AppTest, StopIsIdempotent) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a", .weight = 2});
  Add(app, {.name = "b", .prefix = "lynx.b", .weight = 1});
  app.Stop();  // before Start: nothing to do
  ASSERT_TRUE(app.Start().ok());
  app.Stop();
  app.Stop();
  EXPECT_EQ(Steps("CleanupTasks"), (Names{"b", "a"}));
  EXPECT_TRUE(Steps("destroy").empty());  // Stop cleans up; objects live until the App dies
}

TEST_F(AppTest, DestructorStopsThenDestroysInReverse) {
  {
    App app = App::FromString(kAbcConfig);
    Add(app, {.name = "a", .prefix = "lynx.a", .weight = 2});
    Add(app, {.name = "b", .prefix = "lynx.b", .weight = 1});
    ASSERT_TRUE(app.Start().ok());
  }
  EXPECT_EQ(Steps("CleanupTasks"), (Names{"b", "a"}));
  EXPECT_EQ(Steps("destroy"), (Names{"b", "a"}));
  EXPECT_EQ(log_->back(), "a.destroy");
  // Every cleanup precedes every destruction.
  EXPECT_EQ((*log_)[log_->size() - 4], "b.CleanupTasks");
}

TEST_F(AppTest, CleanupFailureInStopDoesNotSkipTheOthers) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a", .weight = 2});
  Add(app, {.name = "b", .prefix = "lynx.b", .weight = 1, .throw_in = "CleanupTasks"});
  ASSERT_TRUE(app.Start().ok());
  app.Stop();
  EXPECT_EQ(Steps("CleanupTasks"), (Names{"b", "a"}));
}

TEST_F(AppTest, MovedAppKeepsItsPluginsAndStopsThemOnce) {
  App moved_from = App::FromString(kAbcConfig);
  Add(moved_from, {.name = "a", .prefix = "lynx.a"});
  ASSERT_TRUE(moved_from.Start().ok());
  {
    App app = std::move(moved_from);
    EXPECT_EQ(app.StartedPlugins(), (Names{"a"}));
    EXPECT_NO_THROW(app.GetPlugin<FakePlugin>("a"));
    EXPECT_EQ(app.config().Child("lynx.b.x").path(), "lynx.b.x");
  }
  EXPECT_EQ(Steps("CleanupTasks"), (Names{"a"}));
  EXPECT_TRUE(moved_from.StartedPlugins().empty());
  EXPECT_FALSE(moved_from.config().Exists());
  EXPECT_PRED2(Contains, moved_from.Start().message(), "moved from");

  // Move assignment stops what the target had started.
  App target = App::FromString(kAbcConfig);
  Add(target, {.name = "b", .prefix = "lynx.b"});
  ASSERT_TRUE(target.Start().ok());
  target = App::FromString("");
  EXPECT_EQ(Steps("CleanupTasks"), (Names{"a", "b"}));
}

// --- lookups ------------------------------------------------------------------------------

TEST_F(AppTest, GetPluginReturnsTheStartedPluginAsItsType) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a"});
  Add<DerivedFakePlugin>(app, {.name = "b", .prefix = "lynx.b"});
  ASSERT_TRUE(app.Start().ok());
  FakePlugin& a = app.GetPlugin<FakePlugin>("a");
  EXPECT_EQ(a.Name(), "a");
  EXPECT_EQ(&app.GetPlugin<Plugin>("a"), &a);
  EXPECT_EQ(app.GetPlugin<DerivedFakePlugin>("b").Name(), "b");
  EXPECT_EQ(app.GetPlugin<FakePlugin>("b").Name(), "b");  // through a base class

  StatusOr<FakePlugin*> found = app.FindPlugin<FakePlugin>("a");
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(*found, &a);
}

TEST_F(AppTest, GetPluginOfTheWrongTypeThrowsNamingBothTypes) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a"});
  ASSERT_TRUE(app.Start().ok());
  try {
    app.GetPlugin<UnrelatedPlugin>("a");
    FAIL() << "no PluginError";
  } catch (const PluginError& e) {
    EXPECT_PRED2(Contains, e.what(), "plugin \"a\"");
    EXPECT_PRED2(Contains, e.what(), "is a lynx::(anonymous namespace)::FakePlugin");
    EXPECT_PRED2(Contains, e.what(),
                 "not the requested lynx::(anonymous namespace)::UnrelatedPlugin");
  }
  EXPECT_THROW(app.GetPlugin<DerivedFakePlugin>("a"), std::logic_error);

  StatusOr<UnrelatedPlugin*> found = app.FindPlugin<UnrelatedPlugin>("a");
  EXPECT_EQ(found.status().code(), StatusCode::kInvalidArgument);
  EXPECT_PRED2(Contains, found.status().message(), "UnrelatedPlugin");
}

TEST_F(AppTest, GetPluginOfAMissingNameThrowsWithTheReason) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a"});
  Add(app, {.name = "dtm.server", .prefix = "lynx.dtm"});
  try {
    app.GetPlugin<FakePlugin>("a");
    FAIL() << "no PluginError before Start";
  } catch (const PluginError& e) {
    EXPECT_PRED2(Contains, e.what(), "Start() has not been called");
  }
  ASSERT_TRUE(app.Start().ok());
  try {
    app.GetPlugin<FakePlugin>("nope");
    FAIL() << "no PluginError";
  } catch (const PluginError& e) {
    EXPECT_PRED2(Contains, e.what(),
                 "plugin \"nope\" (requested as lynx::(anonymous "
                 "namespace)::FakePlugin) is not available");
    EXPECT_PRED2(Contains, e.what(), "no plugin of that name is registered (started: a)");
  }
  try {
    app.GetPlugin<FakePlugin>("dtm.server");
    FAIL() << "no PluginError";
  } catch (const PluginError& e) {
    EXPECT_PRED2(Contains, e.what(), "not created");
    EXPECT_PRED2(Contains, e.what(), "\"lynx.dtm\"");
  }
  StatusOr<FakePlugin*> found = app.FindPlugin<FakePlugin>("nope");
  EXPECT_EQ(found.status().code(), StatusCode::kNotFound);

  app.Stop();
  StatusOr<FakePlugin*> after_stop = app.FindPlugin<FakePlugin>("a");
  EXPECT_PRED2(Contains, after_stop.status().message(), "stopped");
  EXPECT_THROW(app.GetPlugin<FakePlugin>("a"), PluginError);
}

TEST_F(AppTest, LookupsAfterAFailedStartExplainTheFailure) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a", .fail_in = "CheckHealth"});
  ASSERT_FALSE(app.Start().ok());
  EXPECT_PRED2(Contains, app.FindPlugin<FakePlugin>("a").status().message(),
               "App::Start() failed: plugin \"a\" CheckHealth failed: CheckHealth refused");
}

TEST_F(AppTest, LookupsFromOtherThreadsWhileStartingAndStopping) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a", .weight = 2});
  Add(app, {.name = "b", .prefix = "lynx.b", .weight = 1});
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      while (!done.load()) {
        StatusOr<FakePlugin*> found = app.FindPlugin<FakePlugin>("a");
        if (found.ok()) {
          EXPECT_EQ((*found)->Name(), "a");
        }
        EXPECT_LE(app.StartedPlugins().size(), 2u);
        EXPECT_TRUE(app.config().Exists());
      }
    });
  }
  EXPECT_TRUE(app.Start().ok());
  app.Stop();
  done = true;
  for (std::thread& reader : readers) reader.join();
  EXPECT_EQ(Steps("CleanupTasks"), (Names{"b", "a"}));
}

// --- runtime ------------------------------------------------------------------------------

TEST_F(AppTest, SharedResourcesAreVisibleToEveryPluginPrivateOnesAreNot) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "a", .prefix = "lynx.a", .weight = 2, .on_startup = [](Runtime& rt) {
              Status st = rt.SetSharedResource("db", 42);
              if (st.ok()) st = rt.SetPrivateResource("secret", std::string("a's"));
              return st;
            }});
  Add(app, {.name = "b", .prefix = "lynx.b", .weight = 1, .on_startup = [](Runtime& rt) {
              const int* db = rt.Shared<int>("db");
              if (db == nullptr || *db != 42) return Status::Internal("db not shared");
              if (rt.Shared<std::string>("db") != nullptr) return Status::Internal("type ignored");
              if (rt.GetPrivateResource("secret") != nullptr) return Status::Internal("leak");
              // Each plugin has its own private namespace: the same name is free here.
              return rt.SetPrivateResource("secret", std::string("b's"));
            }});
  Status st = app.Start();
  ASSERT_TRUE(st.ok()) << st.message();

  Runtime& a = *app.GetPlugin<FakePlugin>("a").runtime();
  Runtime& b = *app.GetPlugin<FakePlugin>("b").runtime();
  EXPECT_EQ(std::any_cast<std::string>(*a.GetPrivateResource("secret")), "a's");
  EXPECT_EQ(std::any_cast<std::string>(*b.GetPrivateResource("secret")), "b's");
  EXPECT_EQ(a.GetSharedResource("db"), b.GetSharedResource("db"));
  EXPECT_EQ(a.GetSharedResource("absent"), nullptr);

  Status taken = b.SetSharedResource("db", 7);
  EXPECT_EQ(taken.code(), StatusCode::kInvalidArgument);
  EXPECT_PRED2(Contains, taken.message(), "shared resource \"db\" is already set");
  EXPECT_EQ(*a.Shared<int>("db"), 42);
  Status private_taken = a.SetPrivateResource("secret", 1);
  EXPECT_PRED2(Contains, private_taken.message(), "plugin \"a\"");
  EXPECT_FALSE(a.SetSharedResource("", 1).ok());
  EXPECT_FALSE(a.SetSharedResource("empty", std::any()).ok());
}

TEST_F(AppTest, RuntimeGivesTheWholeConfigAndThePluginSubtree) {
  App app = App::FromString(kAbcConfig);
  Add(app, {.name = "b", .prefix = "lynx.b"});
  ASSERT_TRUE(app.Start().ok());
  Runtime& rt = *app.GetPlugin<FakePlugin>("b").runtime();
  EXPECT_EQ(&rt.Config(), &app.config());
  ConfigNode mine = rt.PluginConfig();
  EXPECT_EQ(mine.path(), "lynx.b");
  int64_t x = 0;
  ASSERT_TRUE(mine.Get("x", &x).ok());
  EXPECT_EQ(x, 1);
}

// --- configuration loading ----------------------------------------------------------------

TEST_F(AppTest, MalformedYamlFileFailsStartWithTheParserMessage) {
  const std::string path = WriteFile("lynx:\n  dtm:\n    server_url: [unclosed\n  other: 1\n");
  App app = App::FromFile(path);
  Add(app, {.name = "dtm.server", .prefix = "lynx.dtm"});
  Status st = app.Start();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_PRED2(Contains, st.message(), "config file " + path);
  EXPECT_PRED2(Contains, st.message(), "invalid YAML: line ");
  EXPECT_PRED2(Contains, st.message(), "end of sequence flow not found");
  EXPECT_TRUE(log_->empty());
  EXPECT_FALSE(app.config().Exists());
}

TEST_F(AppTest, MissingFileFailsStart) {
  const std::string path = (dir_ / "absent.yaml").string();
  App app = App::FromFile(path);  // does not throw
  Status st = app.Start();
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_PRED2(Contains, st.message(), "config file " + path + ": cannot open: No such file");
}

TEST_F(AppTest, DirectoryAsConfigFileFailsStart) {
  App app = App::FromFile(dir_.string());
  EXPECT_PRED2(Contains, app.Start().message(), "is a directory");
}

TEST_F(AppTest, ConfigFileIsLoaded) {
  App app = App::FromFile(WriteFile("lynx:\n  dtm:\n    timeout: 5\n"));
  Add(app, {.name = "dtm.server", .prefix = "lynx.dtm"});
  ASSERT_TRUE(app.Start().ok());
  EXPECT_EQ(app.StartedPlugins(), (Names{"dtm.server"}));
  int64_t timeout = 0;
  EXPECT_TRUE(app.config().Child("lynx.dtm").Get("timeout", &timeout).ok());
  EXPECT_EQ(timeout, 5);
}

TEST_F(AppTest, MalformedYamlStringFailsStart) {
  App app = App::FromString("a: b: c");
  EXPECT_PRED2(Contains, app.Start().message(), "invalid YAML: line 1");
}

// --- ConfigNode ---------------------------------------------------------------------------

ConfigNode Parse(const std::string& yaml) {
  StatusOr<ConfigNode> node = ConfigNode::FromYaml(yaml);
  EXPECT_TRUE(node.ok()) << node.status().message();
  return node.ok() ? *node : ConfigNode();
}

constexpr char kDtmConfig[] = R"(
lynx:
  dtm:
    enabled: true
    server_url: http://localhost:36789/api/dtmsvr
    timeout: 10
    retry_interval: -3
    hex: 0x1F
    quoted_int: "10"
    float: 1.5
    yes_word: yes
    quoted_bool: "true"
    tagged: !!int "12"
    grpc_server: ~
    empty:
    port_as_text: 8080
    pass_through_headers: [X-Request-Id, "Authorization"]
    empty_list: []
    nested_list: [a, [b]]
    map: {k: v}
    huge: 9223372036854775808
    min: -9223372036854775808
)";

TEST(ConfigNodeTest, TypedGettersReadValues) {
  ConfigNode dtm = Parse(kDtmConfig).Child("lynx.dtm");
  ASSERT_TRUE(dtm.Exists());
  EXPECT_EQ(dtm.path(), "lynx.dtm");

  bool enabled = false;
  EXPECT_TRUE(dtm.Get("enabled", &enabled).ok());
  EXPECT_TRUE(enabled);
  std::string url;
  EXPECT_TRUE(dtm.Get("server_url", &url).ok());
  EXPECT_EQ(url, "http://localhost:36789/api/dtmsvr");
  int64_t n = 0;
  EXPECT_TRUE(dtm.Get("timeout", &n).ok());
  EXPECT_EQ(n, 10);
  EXPECT_TRUE(dtm.Get("retry_interval", &n).ok());
  EXPECT_EQ(n, -3);
  EXPECT_TRUE(dtm.Get("hex", &n).ok());
  EXPECT_EQ(n, 31);
  EXPECT_TRUE(dtm.Get("tagged", &n).ok());  // an explicit !!int tag is an integer
  EXPECT_EQ(n, 12);
  EXPECT_TRUE(dtm.Get("min", &n).ok());
  EXPECT_EQ(n, INT64_MIN);
  std::string text;
  EXPECT_TRUE(dtm.Get("port_as_text", &text).ok());  // any scalar reads as a string
  EXPECT_EQ(text, "8080");

  std::vector<std::string> headers;
  EXPECT_TRUE(dtm.Get("pass_through_headers", &headers).ok());
  EXPECT_EQ(headers, (std::vector<std::string>{"X-Request-Id", "Authorization"}));
  std::vector<std::string> empty_list{"untouched?"};
  EXPECT_TRUE(dtm.Get("empty_list", &empty_list).ok());
  EXPECT_TRUE(empty_list.empty());
}

TEST(ConfigNodeTest, AbsentAndNullKeysLeaveTheOutputUntouched) {
  ConfigNode dtm = Parse(kDtmConfig).Child("lynx.dtm");
  std::string s = "default";
  int64_t n = 7;
  bool b = true;
  std::vector<std::string> list{"x"};
  for (const char* key : {"grpc_server", "empty", "missing", "missing.deeper"}) {
    EXPECT_TRUE(dtm.Get(key, &s).ok()) << key;
    EXPECT_TRUE(dtm.Get(key, &n).ok()) << key;
    EXPECT_TRUE(dtm.Get(key, &b).ok()) << key;
    EXPECT_TRUE(dtm.Get(key, &list).ok()) << key;
  }
  EXPECT_EQ(s, "default");
  EXPECT_EQ(n, 7);
  EXPECT_TRUE(b);
  EXPECT_EQ(list, (std::vector<std::string>{"x"}));

  ConfigNode absent = Parse(kDtmConfig).Child("lynx.redis");
  EXPECT_FALSE(absent.Exists());
  EXPECT_EQ(absent.path(), "lynx.redis");
  EXPECT_TRUE(absent.Get("timeout", &n).ok());
  EXPECT_TRUE(absent.Keys().empty());
  EXPECT_FALSE(ConfigNode().Exists());
}

TEST(ConfigNodeTest, TypeMismatchesNameTheFullKey) {
  ConfigNode dtm = Parse(kDtmConfig).Child("lynx.dtm");
  int64_t n = 99;
  bool b = false;
  std::string s = "keep";
  std::vector<std::string> list;

  Status st = dtm.Get("server_url", &n);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.message(), "lynx.dtm.server_url: expected an integer");
  EXPECT_EQ(dtm.Get("quoted_int", &n).message(), "lynx.dtm.quoted_int: expected an integer");
  EXPECT_EQ(dtm.Get("float", &n).message(), "lynx.dtm.float: expected an integer");
  EXPECT_EQ(dtm.Get("huge", &n).message(), "lynx.dtm.huge: expected an integer");
  EXPECT_EQ(dtm.Get("enabled", &n).message(), "lynx.dtm.enabled: expected an integer");
  EXPECT_EQ(n, 99);

  EXPECT_PRED2(Contains, dtm.Get("yes_word", &b).message(),
               "lynx.dtm.yes_word: expected a boolean");
  EXPECT_PRED2(Contains, dtm.Get("quoted_bool", &b).message(),
               "lynx.dtm.quoted_bool: expected a boolean");
  EXPECT_PRED2(Contains, dtm.Get("timeout", &b).message(), "expected a boolean");
  EXPECT_FALSE(b);

  EXPECT_EQ(dtm.Get("map", &s).message(), "lynx.dtm.map: expected a string");
  EXPECT_EQ(dtm.Get("pass_through_headers", &s).message(),
            "lynx.dtm.pass_through_headers: expected a string");
  EXPECT_EQ(s, "keep");

  EXPECT_EQ(dtm.Get("server_url", &list).message(),
            "lynx.dtm.server_url: expected a list of strings");
  EXPECT_PRED2(Contains, dtm.Get("nested_list", &list).message(),
               "lynx.dtm.nested_list: expected a list of strings (item 1");
  EXPECT_TRUE(list.empty());

  // A dotted key and a getter on the root name the same full path.
  ConfigNode root = Parse(kDtmConfig);
  EXPECT_EQ(root.Get("lynx.dtm.server_url", &n).message(),
            "lynx.dtm.server_url: expected an integer");
  EXPECT_EQ(root.Child("lynx").Get("dtm.timeout", &b).message(),
            "lynx.dtm.timeout: expected a boolean (true or false)");
}

TEST(ConfigNodeTest, ChildAndKeys) {
  ConfigNode root = Parse("b: 1\na:\n  z: 1\n  y: {w: 2}\n");
  EXPECT_EQ(root.Keys(), (std::vector<std::string>{"b", "a"}));  // file order
  EXPECT_EQ(root.Child("a").Keys(), (std::vector<std::string>{"z", "y"}));
  EXPECT_TRUE(root.Child("a.y.w").Exists());
  EXPECT_EQ(root.Child("a").Child("y.w").path(), "a.y.w");
  EXPECT_FALSE(root.Child("a.z.w").Exists());  // below a scalar
  EXPECT_FALSE(root.Child("a..y").Exists());
  EXPECT_FALSE(root.Child("a.").Exists());
  EXPECT_TRUE(root.Child("b").Keys().empty());
}

TEST(ConfigNodeTest, ParseErrors) {
  StatusOr<ConfigNode> bad = ConfigNode::FromYaml("a:\n  - 1\n  b: 2\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_PRED2(Contains, bad.status().message(), "invalid YAML: line ");

  StatusOr<ConfigNode> duplicate = ConfigNode::FromYaml("lynx:\n  dtm: 1\n  dtm: 2\n");
  ASSERT_FALSE(duplicate.ok());
  EXPECT_PRED2(Contains, duplicate.status().message(), "lynx.dtm: duplicate key (line 3)");

  StatusOr<ConfigNode> two_docs = ConfigNode::FromYaml("a: 1\n---\nb: 2\n");
  ASSERT_FALSE(two_docs.ok());
  EXPECT_PRED2(Contains, two_docs.status().message(), "one document");

  StatusOr<ConfigNode> recursive = ConfigNode::FromYaml("a: &x [*x]\n");
  ASSERT_FALSE(recursive.ok());
  EXPECT_PRED2(Contains, recursive.status().message(), "nested deeper than");

  StatusOr<ConfigNode> complex_key = ConfigNode::FromYaml("? [a, b]\n: 1\n");
  ASSERT_FALSE(complex_key.ok());
  EXPECT_PRED2(Contains, complex_key.status().message(), "mapping keys must be scalars");

  EXPECT_TRUE(ConfigNode::FromYaml("# only a comment\n").ok());
}

TEST(ConfigNodeTest, AliasesAreExpanded) {
  ConfigNode root = Parse("base: &b {timeout: 3}\nlynx:\n  dtm: *b\n");
  int64_t n = 0;
  EXPECT_TRUE(root.Child("lynx.dtm").Get("timeout", &n).ok());
  EXPECT_EQ(n, 3);
}

}  // namespace
}  // namespace lynx
