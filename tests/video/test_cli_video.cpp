// `fungen detect VIDEO` end to end with a real model (skipped when none is around): Ctrl-C keeps
// the part file and exits 130, the rerun resumes and ends with the same file as an uninterrupted
// run; a complete file is kept; a truncated video exits 3 naming the damage.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include <fmt/format.h>

#include "video_test_util.h"

namespace fungen {
namespace {

namespace fs = std::filesystem;

// FUNGEN_TEST_MODEL, else a dynamic-batch YOLO11 export made by tools/export_models.py.
std::string find_model() {
  if (const char* m = std::getenv("FUNGEN_TEST_MODEL"); m && *m) return m;
  const char* home = std::getenv("HOME");
  fs::path dir = fs::path(home ? home : ".") / ".cache/fungen/models";
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return "";
  std::vector<std::string> found;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (name.starts_with("yolo11_384x640_dyn") && name.ends_with(".onnx"))
      found.push_back(e.path().string());
  }
  std::sort(found.begin(), found.end());
  return found.empty() ? "" : found.front();
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int count_lines(const std::string& path) {
  std::string s = read_all(path);
  return static_cast<int>(std::count(s.begin(), s.end(), '\n'));
}

int run_cli(const std::string& args) {
  return test::run_command(std::string(FUNGEN_CLI_EXE) + " " + args);
}

class CliVideo : public ::testing::Test {
 protected:
  void SetUp() override {
    model_ = find_model();
    if (model_.empty())
      GTEST_SKIP() << "no model: set FUNGEN_TEST_MODEL or run tools/export_models.py";
    clip_ = test::temp_dir() + "/cli_clip.mp4";
    if (!fs::exists(clip_)) {
      ASSERT_TRUE(
          test::ffmpeg("-f lavfi -i testsrc2=size=256x144:rate=25:duration=0.32 -c:v libx264 "
                       "-preset ultrafast -pix_fmt yuv420p -movflags +faststart '" +
                       clip_ + "'"));
    }
  }
  std::string args(const std::string& out) {
    return fmt::format("detect '{}' -m '{}' --out '{}' --batch 2 --conf 0.001 --quiet", clip_,
                       model_, out);
  }
  void interrupt_and_resume(int sig, const std::string& tag);
  std::string model_, clip_;
};

// Interrupts a run with `sig` once a few frames are on disk; the rerun must resume and end with the
// same bytes as an uninterrupted run.
void CliVideo::interrupt_and_resume(int sig, const std::string& tag) {
  std::string whole = test::temp_dir() + "/cli_whole_" + tag + ".jsonl";
  ASSERT_EQ(run_cli(args(whole)), 0);
  ASSERT_EQ(count_lines(whole), 8 + 2);

  std::string out = test::temp_dir() + "/cli_resumed_" + tag + ".jsonl";
  std::string part = out + ".part";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::string cmd = std::string(FUNGEN_CLI_EXE) + " " + args(out) + " 2>/dev/null";
    execl("/bin/sh", "sh", "-c", ("exec " + cmd).c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Interrupt once a few frames are on disk.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(part) && count_lines(part) >= 1 + 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, sig);
  int status = 0;
  waitpid(pid, &status, 0);
  int frames_kept = count_lines(part) - 1;
  if (!fs::exists(part) || frames_kept >= 8) GTEST_SKIP() << "the run finished before the signal";
  if (sig == SIGINT) {
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 130);
  } else {
    EXPECT_TRUE(WIFSIGNALED(status));
  }
  EXPECT_FALSE(fs::exists(out));
  EXPECT_GE(frames_kept, 3);

  ASSERT_EQ(run_cli(args(out)), 0);
  EXPECT_FALSE(fs::exists(part));
  EXPECT_EQ(read_all(out), read_all(whole));
  // Complete: kept as it is.
  auto before = fs::last_write_time(out);
  ASSERT_EQ(run_cli(args(out)), 0);
  EXPECT_EQ(fs::last_write_time(out), before);
}

TEST_F(CliVideo, CtrlCKeepsThePartFileAndTheRerunResumesToTheSameFile) {
  interrupt_and_resume(SIGINT, "int");
}

TEST_F(CliVideo, KillKeepsThePartFileAndTheRerunResumesToTheSameFile) {
  interrupt_and_resume(SIGKILL, "kill");
}

TEST_F(CliVideo, TruncatedVideoExitsWithBadInputAndKeepsEarlierFrames) {
  std::string bytes = read_all(clip_);
  std::string cut = test::temp_dir() + "/cli_cut.mp4";
  std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() * 7 / 10);
  std::string out = test::temp_dir() + "/cli_cut.jsonl";
  std::string message =
      test::capture(fmt::format("{} detect '{}' -m '{}' --out '{}' --batch 2 --quiet "
                                "2>&1 >/dev/null; echo \"rc=$?\"",
                                FUNGEN_CLI_EXE, cut, model_, out));
  EXPECT_NE(message.find("rc=3"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  std::string text = read_all(out);
  EXPECT_NE(text.find("\"complete\":false"), std::string::npos);
  EXPECT_NE(text.find("\"frame\":0"), std::string::npos);
}

}  // namespace
}  // namespace fungen
