#include "engine/phase_progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace kelvin {

std::string format_duration(double seconds) {
    const long long s = std::max(0LL, std::llround(seconds));
    char text[32];
    if (s >= 3600)
        std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else
        std::snprintf(text, sizeof text, "%lld:%02lld", s / 60, s % 60);
    return text;
}

double estimate_remaining(double elapsed_seconds, int64_t done, int64_t total) {
    if (done <= 0 || total <= 0) return -1.0;
    return elapsed_seconds * static_cast<double>(std::max<int64_t>(0, total - done)) /
           static_cast<double>(done);
}

PhaseProgress::PhaseProgress(std::string label, int64_t total, std::string unit, std::FILE* out,
                             Style style)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), out_(out),
      bar_(style == Style::bar || (style == Style::automatic && ::isatty(::fileno(out)))),
      start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

PhaseProgress::~PhaseProgress() { finish(); }

void PhaseProgress::advance(int64_t done) {
    done_ = done;
    if (!bar_ || finished_) return;
    const auto now = std::chrono::steady_clock::now();
    if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    draw(std::chrono::duration<double>(now - start_).count());
}

void PhaseProgress::draw(double elapsed) {
    std::string line = label_;
    if (total_ > 0) {
        constexpr int kWidth = 20;
        const int filled = static_cast<int>(kWidth * std::min(done_, total_) / total_);
        line += " [" + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] " +
                std::to_string(done_) + "/" + std::to_string(total_);
    } else {
        line += " " + std::to_string(done_);
    }
    line += " " + unit_ + "  " + format_duration(elapsed) + " elapsed";
    const double left = estimate_remaining(elapsed, done_, total_);
    if (left >= 0) line += ", ~" + format_duration(left) + " left";
    std::fprintf(out_, "\r\033[K%s", line.c_str());
    std::fflush(out_);
    drawn_ = true;
}

void PhaseProgress::finish() {
    if (finished_) return;
    finished_ = true;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    if (bar_ && drawn_) std::fprintf(out_, "\r\033[K");
    std::fprintf(out_, "%s: %lld %s in %s\n", label_.c_str(), static_cast<long long>(done_),
                 unit_.c_str(), format_duration(elapsed).c_str());
    std::fflush(out_);
}

}  // namespace kelvin
