/**
 * Benchmark results: every figure has a value and a unit, and where there is
 * a floor to compare with, a baseline measured in the same run on the same
 * machine, so the ratio (value / baseline) says what the platform costs on top.
 */

export interface Figure {
  value: number;
  unit: string;
  /** What the same work costs without the platform (same run, same machine). */
  baseline?: number;
  /** What the baseline is, in a few words. */
  baselineLabel?: string;
}

export interface BenchReport {
  name: string;
  figures: Record<string, Figure>;
  /** Remarks worth keeping with the numbers (sample sizes, what was skipped and why). */
  notes?: string[];
}

/** The shape `bench/cloud-tasks.ts` and `bench/billing.ts` return. */
export interface PlainResult {
  name: string;
  figures: Record<string, number>;
  unit: Record<string, string>;
}

export function fromPlain(result: PlainResult): BenchReport {
  return {
    name: result.name,
    figures: Object.fromEntries(Object.entries(result.figures).map(([k, v]) => [k, { value: v, unit: result.unit[k] ?? '' }])),
  };
}

export function ratio(figure: Figure): number | undefined {
  if (figure.baseline === undefined || figure.baseline === 0) return undefined;
  return figure.value / figure.baseline;
}

/** Rounds for display: 3 significant digits, no exponent. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return String(Math.round(value));
  return String(Number(value.toPrecision(3)));
}

/** A plain-text table: bench, figure, value, baseline, ratio. */
export function formatTable(reports: BenchReport[]): string {
  const rows: string[][] = [['bench', 'figure', 'value', 'baseline', 'ratio']];
  for (const report of reports) {
    for (const [name, f] of Object.entries(report.figures)) {
      const r = ratio(f);
      rows.push([
        report.name,
        name,
        `${formatNumber(f.value)} ${f.unit}`.trim(),
        f.baseline === undefined ? '-' : `${formatNumber(f.baseline)} ${f.unit}${f.baselineLabel ? ` (${f.baselineLabel})` : ''}`,
        r === undefined ? '-' : `${formatNumber(r)}×`,
      ]);
    }
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) => (i === 2 || i === 4 ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(rows[0]), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** The same table in Markdown, for the README. */
export function formatMarkdown(reports: BenchReport[]): string {
  const out = ['| bench | figure | value | baseline | ratio |', '|---|---|---:|---|---:|'];
  for (const report of reports) {
    for (const [name, f] of Object.entries(report.figures)) {
      const r = ratio(f);
      const baseline =
        f.baseline === undefined ? '–' : `${formatNumber(f.baseline)} ${f.unit}${f.baselineLabel ? ` (${f.baselineLabel})` : ''}`;
      out.push(
        `| ${report.name} | ${name} | ${formatNumber(f.value)} ${f.unit} | ${baseline} | ${r === undefined ? '–' : `${formatNumber(r)}×`} |`,
      );
    }
  }
  return out.join('\n');
}
