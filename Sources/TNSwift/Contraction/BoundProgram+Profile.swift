#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Set once per process: `TNSWIFT_PROFILE=1` times every instruction (for developers).
let boundProgramProfiling = getenv("TNSWIFT_PROFILE").map { String(cString: $0) == "1" } ?? false

extension BoundProgram {
    /// Set TNSWIFT_PROFILE=1 to time every instruction and print the mean and the fastest time per instruction
    /// every `profileReportEvery` runs of a program (which copies and GEMMs a plan's time goes to).
    static var profiling: Bool { boundProgramProfiling }
    static var profileReportEvery: Int { 200 }

    /// `run` with a clock read around every instruction.
    func runProfiled() -> Bool {
        if profile.count != instructions.count {
            profile = [Double](repeating: 0, count: instructions.count)
            profileFastest = [Double](repeating: .infinity, count: instructions.count)
        }
        let check = InterruptCheck.current
        for (i, instruction) in instructions.enumerated() {
            if let check, check.requested { return false }
            let start = BoundProgram.nanoseconds()
            let finished = perform(instruction, check: check)
            let elapsed = BoundProgram.nanoseconds() - start
            profile[i] += elapsed
            profileFastest[i] = Swift.min(profileFastest[i], elapsed)
            if !finished { return false }
        }
        profiledRuns += 1
        if profiledRuns % BoundProgram.profileReportEvery == 0 {
            print("tnswift: profile of a bound program, mean and fastest of \(profiledRuns) runs")
            let us = { (ns: Double) in (ns / 100).rounded() / 10 }
            for (i, instruction) in instructions.enumerated() {
                print("  \(us(profile[i] / Double(profiledRuns))) us (\(us(profileFastest[i])))  \(instruction)")
            }
        }
        return true
    }

    static func nanoseconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) * 1e9 + Double(t.tv_nsec)
    }
}
