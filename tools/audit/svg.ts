/** A small SVG line chart (no dependency): panels side by side, a left and a right axis each. */
export interface Series {
  readonly name: string
  readonly y: number[]
  readonly axis: 'left' | 'right'
  readonly dashed?: boolean
}
export interface Panel {
  readonly title: string
  readonly xLabel: string
  readonly x: number[]
  readonly labels: string[]
  readonly series: Series[]
}

const COLORS = ['#1f77b4', '#7f7f7f', '#d62728', '#2ca02c']
const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')

export function plot(panels: Panel[], caption: string): string {
  const W = 460
  const H = 300
  const pad = { l: 50, r: 50, t: 40, b: 70 }
  const parts: string[] = []
  panels.forEach((p, pi) => {
    const ox = pi * W
    const xs = p.x
    const xMin = Math.min(...xs)
    const xMax = Math.max(...xs)
    const sx = (v: number): number =>
      ox +
      pad.l +
      (xMax === xMin ? 0.5 : (Math.log(v) - Math.log(xMin)) / (Math.log(xMax) - Math.log(xMin))) * (W - pad.l - pad.r)
    const range = (axis: 'left' | 'right'): [number, number] => {
      const ys = p.series
        .filter(s => s.axis === axis)
        .flatMap(s => s.y)
        .filter(Number.isFinite)
      return [0, Math.max(1, ...ys) * 1.15]
    }
    const sy = (v: number, [lo, hi]: [number, number]): number =>
      pad.t + (1 - (v - lo) / (hi - lo)) * (H - pad.t - pad.b)
    const L = range('left')
    const R = range('right')
    parts.push(
      `<text x="${ox + W / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">${esc(p.title)}</text>`
    )
    parts.push(
      `<line x1="${ox + pad.l}" y1="${H - pad.b}" x2="${ox + W - pad.r}" y2="${H - pad.b}" stroke="#000"/><line x1="${ox + pad.l}" y1="${pad.t}" x2="${ox + pad.l}" y2="${H - pad.b}" stroke="#000"/><line x1="${ox + W - pad.r}" y1="${pad.t}" x2="${ox + W - pad.r}" y2="${H - pad.b}" stroke="#000"/>`
    )
    for (let i = 0; i <= 4; i++) {
      const lv = L[0] + ((L[1] - L[0]) * i) / 4
      const rv = R[0] + ((R[1] - R[0]) * i) / 4
      parts.push(
        `<text x="${ox + pad.l - 5}" y="${sy(lv, L) + 4}" text-anchor="end" font-size="10">${lv.toFixed(1)}</text><text x="${ox + W - pad.r + 5}" y="${sy(rv, R) + 4}" font-size="10">${rv.toFixed(2)}</text>`
      )
    }
    xs.forEach((v, i) => {
      parts.push(
        `<text x="${sx(v)}" y="${H - pad.b + 14}" text-anchor="middle" font-size="10">${v}</text><text x="${sx(v)}" y="${H - pad.b + 27}" text-anchor="middle" font-size="9" fill="#555">${esc(p.labels[i] ?? '')}</text>`
      )
    })
    parts.push(
      `<text x="${ox + W / 2}" y="${H - pad.b + 44}" text-anchor="middle" font-size="11">${esc(p.xLabel)}</text>`
    )
    parts.push(
      `<text x="${ox + 12}" y="${(pad.t + H - pad.b) / 2}" font-size="10" transform="rotate(-90 ${ox + 12} ${(pad.t + H - pad.b) / 2})" text-anchor="middle">bits</text><text x="${ox + W - 10}" y="${(pad.t + H - pad.b) / 2}" font-size="10" transform="rotate(90 ${ox + W - 10} ${(pad.t + H - pad.b) / 2})" text-anchor="middle">success / chance</text>`
    )
    p.series.forEach((s, si) => {
      const r = s.axis === 'left' ? L : R
      const pts = xs.map((v, i) => `${sx(v).toFixed(1)},${sy(s.y[i] ?? 0, r).toFixed(1)}`).join(' ')
      parts.push(
        `<polyline points="${pts}" fill="none" stroke="${COLORS[si % COLORS.length]}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="5,4"' : ''}/>`
      )
      xs.forEach((v, i) => {
        parts.push(
          `<circle cx="${sx(v).toFixed(1)}" cy="${sy(s.y[i] ?? 0, r).toFixed(1)}" r="3" fill="${COLORS[si % COLORS.length]}"/>`
        )
      })
      parts.push(
        `<rect x="${ox + pad.l + 8}" y="${pad.t + 4 + si * 14}" width="10" height="3" fill="${COLORS[si % COLORS.length]}"/><text x="${ox + pad.l + 22}" y="${pad.t + 9 + si * 14}" font-size="10">${esc(s.name)}${s.axis === 'right' ? ' (right axis)' : ''}</text>`
      )
    })
    // 1.25x chance: the audit's bound for every adversary.
    parts.push(
      `<line x1="${ox + pad.l}" y1="${sy(1.25, R)}" x2="${ox + W - pad.r}" y2="${sy(1.25, R)}" stroke="#d62728" stroke-width="0.7" stroke-dasharray="2,3"/>`
    )
  })
  const width = W * panels.length
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H + 20}" viewBox="0 0 ${width} ${H + 20}" font-family="sans-serif"><rect width="100%" height="100%" fill="#fff"/>${parts.join('')}<text x="${width / 2}" y="${H + 12}" text-anchor="middle" font-size="10" fill="#555">${esc(caption)} · dotted red: 1.25x chance</text></svg>\n`
}
