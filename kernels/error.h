// The error every layer throws for a problem a user can act on (bad input, bad options, a
// backend that refuses), and the check that throws it. It lives in the lowest layer so that
// kernels report errors without knowing the engine; the CLI prints `what()` alone.
#pragma once

#include <stdexcept>
#include <string>

namespace kelvin {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace kelvin

// Checks an invariant of the caller's input; the message should say what was expected.
#define KELVIN_CHECK(cond, msg)                                   \
    do {                                                          \
        if (!(cond)) throw ::kelvin::Error(std::string(msg));     \
    } while (0)
