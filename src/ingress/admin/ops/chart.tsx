/** Events per hour over 24 hours as an inline SVG bar chart (oldest hour on the left). */
export function HourlyChart(props: { counts: number[]; label: string }) {
  const width = 192;
  const height = 32;
  const bar = width / props.counts.length;
  const max = Math.max(1, ...props.counts);
  const total = props.counts.reduce((a, b) => a + b, 0);
  return (
    <svg
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={`${props.label}: ${total} events in the last 24 hours`}
      data-total={total}
    >
      <rect x="0" y="0" width={width} height={height} fill="#f3f4f6" />
      {props.counts.map((n, i) => {
        const h = n === 0 ? 0 : Math.max(2, Math.round((n / max) * (height - 2)));
        return (
          <rect x={i * bar + 1} y={height - h} width={bar - 2} height={h} fill="#2563eb">
            <title>{`${23 - i} h ago: ${n}`}</title>
          </rect>
        );
      })}
    </svg>
  );
}
