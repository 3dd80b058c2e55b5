/**
 * Events per hour over 24 hours as an inline SVG bar chart, oldest hour on the left. Every hour
 * has its slot, so a quiet hour reads as zero rather than as missing, and the axis says which end
 * is now; each slot names its UTC hour and count on hover.
 */

const WIDTH = 240;
const BARS = 30;
const HEIGHT = BARS + 12;

export function HourlyChart(props: { counts: number[]; label: string; now: string }) {
  const slot = WIDTH / props.counts.length;
  const max = Math.max(1, ...props.counts);
  const total = props.counts.reduce((a, b) => a + b, 0);
  const currentHour = Math.floor(Date.parse(props.now) / 3_600_000);
  const hourOf = (i: number) =>
    new Date((currentHour - (props.counts.length - 1 - i)) * 3_600_000).toISOString().slice(11, 13);
  return (
    <svg
      class="chart"
      width={WIDTH}
      height={HEIGHT}
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-label={`${props.label}: ${total} events in the last 24 hours`}
      data-total={total}
    >
      {props.counts.map((n, i) => {
        const h = n === 0 ? 1 : Math.max(3, Math.round((n / max) * (BARS - 2)));
        return (
          <g data-hour={hourOf(i)} data-count={n}>
            <title>{`${hourOf(i)}:00 UTC${i === props.counts.length - 1 ? " (this hour so far)" : ""}: ${n} event${n === 1 ? "" : "s"}`}</title>
            <rect x={i * slot + 0.5} y="0" width={slot - 1} height={BARS} fill={i % 2 === 0 ? "#f3f4f6" : "#eceef1"} />
            <rect x={i * slot + 1} y={BARS - h} width={slot - 2} height={h} fill={n === 0 ? "#c7ccd3" : "#2563eb"} />
          </g>
        );
      })}
      <text x="0" y={HEIGHT - 1} font-size="9" fill="#6b7280">
        24 h ago
      </text>
      <text x={WIDTH / 2} y={HEIGHT - 1} font-size="9" fill="#6b7280" text-anchor="middle">
        12 h
      </text>
      <text x={WIDTH} y={HEIGHT - 1} font-size="9" fill="#6b7280" text-anchor="end">
        now
      </text>
    </svg>
  );
}
