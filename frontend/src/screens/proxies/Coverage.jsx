import { Card, CardHeader } from '../../components/Card.jsx'

// One modelled operation: its name, with the method and paths it answers on hover.
function Operation({ op, tone }) {
  const streams = op.stream === 'always' ? ' (streams)' : op.stream === 'body' ? ' (streams when asked)' : ''
  return (
    <li
      data-testid={`coverage-op-${op.operation}`}
      title={`${op.method} ${op.paths.join('\n')}${streams}`}
      className={`rounded px-1.5 py-0.5 font-mono text-xs ${tone}`}
    >
      {op.operation}
    </li>
  )
}

function Row({ label, hint, testId, children }) {
  return (
    <div className="grid gap-2 px-5 py-4 sm:grid-cols-[12rem_1fr]" data-testid={testId}>
      <dt>
        <p className="text-sm font-medium text-slate-900">{label}</p>
        <p className="text-xs text-slate-500">{hint}</p>
      </dt>
      <dd>{children}</dd>
    </div>
  )
}

function Operations({ ops, tone }) {
  if (!ops.length) return <p className="text-sm text-slate-500">None</p>
  return <ul className="flex flex-wrap gap-1.5">{ops.map((op) => <Operation key={`${op.method} ${op.operation}`} op={op} tone={tone} />)}</ul>
}

// Every modelled path, for keyboard and screen-reader users too (the chips' titles only show on hover).
function Paths({ coverage }) {
  const rows = [
    ...coverage.cached.map((op) => ({ ...op, cached: true })),
    ...coverage.forwarded.map((op) => ({ ...op, cached: false })),
  ].flatMap((op) => op.paths.map((path) => ({ ...op, path })))
  return (
    <details className="px-5 py-3" data-testid="coverage-paths">
      <summary className="cursor-pointer text-sm font-medium text-slate-700">All modelled paths ({rows.length})</summary>
      <table className="mt-2 w-full text-left text-[13px]">
        <thead className="text-xs text-slate-500">
          <tr><th className="py-1 pr-3 font-medium">Operation</th><th className="py-1 pr-3 font-medium">Method</th><th className="py-1 pr-3 font-medium">Path</th><th className="py-1 font-medium">Cached</th></tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {rows.map((r) => (
            <tr key={`${r.method} ${r.path}`}>
              <td className="py-1 pr-3 font-mono text-xs">{r.operation}</td>
              <td className="py-1 pr-3 font-mono text-xs">{r.method}</td>
              <td className="break-all py-1 pr-3 font-mono text-xs">{r.path}</td>
              <td className="py-1">{r.cached ? 'Yes' : 'No'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  )
}

// What a proxy of this provider caches, forwards, passes through and refuses (from GET /api/v1/providers/).
export function Coverage({ coverage, providerName }) {
  return (
    <Card data-testid="coverage">
      <CardHeader title="What this proxy covers" description={`The ${providerName} API as this proxy handles it; hover an operation for its paths.`} />
      <dl className="divide-y divide-slate-100">
        <Row label="Cached" hint="Repeats answered from the cache" testId="coverage-cached">
          <Operations ops={coverage.cached} tone="bg-emerald-50 text-emerald-800" />
        </Row>
        <Row label="Forwarded" hint="Modelled, never cached" testId="coverage-forwarded">
          <Operations ops={coverage.forwarded} tone="bg-slate-100 text-slate-700" />
        </Row>
        <Row label="Passed through" hint="Anything else under these roots, uncached" testId="coverage-passthrough">
          <ul className="flex flex-wrap gap-1.5">
            {coverage.passthrough.map((root) => (
              <li key={root} className="rounded border border-slate-200 px-1.5 py-0.5 font-mono text-xs text-slate-700">{root}</li>
            ))}
          </ul>
        </Row>
        <Row label="WebSockets" hint="Tunnelled both ways, never cached" testId="coverage-websockets">
          {coverage.websockets.length ? (
            <ul className="flex flex-wrap gap-1.5">
              {coverage.websockets.map((ws) => (
                <li key={ws.path} title={ws.path} className="rounded border border-slate-200 px-1.5 py-0.5 font-mono text-xs text-slate-700">
                  {ws.api} <span className="text-slate-500">{ws.path}</span>
                </li>
              ))}
            </ul>
          ) : (
            <p className="text-sm text-slate-500">None of its SDKs opens one; any under the roots above tunnels through</p>
          )}
        </Row>
        <Row label="Refused" hint="Never forwarded" testId="coverage-refused">
          <p className="text-sm text-slate-700">{coverage.refused}</p>
        </Row>
      </dl>
      <div className="border-t border-slate-100"><Paths coverage={coverage} /></div>
    </Card>
  )
}
