import type { Reporter, TestModule } from "vitest/node";

/**
 * Prints one plain closing line, `tests: N passed, N failed, N skipped`, after vitest's own
 * summary, so tools that read only a run's last lines see the counts. Tests skipped with a
 * reason (`ctx.skip(condition, note)`) are listed just before it, each with its reason, so a
 * skip is never silent.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const notes: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state === "passed") passed += 1;
        else if (result.state === "failed") failed += 1;
        else {
          skipped += 1;
          if (result.state === "skipped" && result.note) {
            notes.push(`skipped: ${test.fullName} [${result.note}]\n`);
          }
        }
      }
    }
    process.stdout.write(
      `\n${notes.join("")}tests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`,
    );
  }
}
