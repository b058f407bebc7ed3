/** Daily costs as SVG bars: readable without a chart library, with a text summary for screen readers. */
export interface Bar {
  label: string;
  value: number;
}

export function BarChart({ bars, currency, title }: { bars: Bar[]; currency: string; title: string }) {
  const width = 600;
  const height = 160;
  const max = Math.max(...bars.map((b) => b.value), 0);
  const money = (v: number) => new Intl.NumberFormat(undefined, { style: 'currency', currency, maximumFractionDigits: 4 }).format(v);
  if (bars.length === 0) return <p className="text-sm text-slate-500">No costs recorded in this period yet.</p>;
  const slot = width / bars.length;
  return (
    <figure>
      <svg
        viewBox={`0 0 ${width} ${height + 20}`}
        role="img"
        aria-label={`${title}: ${bars.map((b) => `${b.label} ${money(b.value)}`).join(', ')}`}
        className="h-auto w-full"
      >
        {bars.map((bar, i) => {
          const h = max > 0 ? Math.max(2, (bar.value / max) * height) : 2;
          return (
            <g key={bar.label}>
              <rect x={i * slot + slot * 0.15} y={height - h} width={slot * 0.7} height={h} rx={2} className="fill-brand-500">
                <title>{`${bar.label}: ${money(bar.value)}`}</title>
              </rect>
              {(bars.length <= 10 || i % Math.ceil(bars.length / 8) === 0) && (
                <text x={i * slot + slot / 2} y={height + 14} textAnchor="middle" className="fill-slate-500 text-[10px]">
                  {bar.label.slice(5)}
                </text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption className="mt-1 text-xs text-slate-500">
        {title}; highest day {money(max)}.
      </figcaption>
    </figure>
  );
}
