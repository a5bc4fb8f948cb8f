import { useId, useState } from 'react'
import { X } from 'lucide-react'

// A list of short strings (IPs, CIDRs, tags) as removable tokens. Enter, comma or space adds one.
export function TokenInput({ label, hint, error, value = [], onChange, placeholder, testId, validate }) {
  const id = useId()
  const [draft, setDraft] = useState('')
  const [localError, setLocalError] = useState('')

  const add = (raw) => {
    const parts = raw.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean)
    if (!parts.length) return
    for (const p of parts) {
      const problem = validate ? validate(p) : ''
      if (problem) {
        setLocalError(problem)
        return
      }
    }
    setLocalError('')
    onChange([...value, ...parts.filter((p) => !value.includes(p))])
    setDraft('')
  }

  const onKeyDown = (e) => {
    if (e.key === 'Enter' || e.key === ',' || e.key === ' ') {
      e.preventDefault()
      add(draft)
    } else if (e.key === 'Backspace' && !draft && value.length) {
      onChange(value.slice(0, -1))
    }
  }

  const shown = error || localError
  return (
    <div>
      {label && (
        <label htmlFor={id} className="mb-1 block text-[13px] font-medium text-slate-700">
          {label}
        </label>
      )}
      <div
        className={`flex min-h-8 flex-wrap items-center gap-1 rounded-md border bg-white px-1.5 py-1 shadow-xs focus-within:ring-2 focus-within:ring-accent/40 ${shown ? 'border-red-400' : 'border-slate-300'}`}
        data-testid={testId}
      >
        {value.map((token) => (
          <span key={token} className="inline-flex items-center gap-1 rounded bg-slate-100 py-0.5 pl-1.5 pr-0.5 font-mono text-xs text-slate-700">
            {token}
            <button
              type="button"
              aria-label={`Remove ${token}`}
              onClick={() => onChange(value.filter((t) => t !== token))}
              className="rounded p-0.5 text-slate-400 hover:bg-slate-200 hover:text-slate-700"
            >
              <X className="size-3" />
            </button>
          </span>
        ))}
        <input
          id={id}
          value={draft}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={onKeyDown}
          onBlur={() => draft && add(draft)}
          placeholder={value.length ? '' : placeholder}
          aria-invalid={shown ? true : undefined}
          data-testid={testId && `${testId}-input`}
          className="min-w-24 flex-1 border-0 bg-transparent px-1 py-0.5 text-sm outline-none focus:ring-0"
        />
      </div>
      {shown ? <p className="mt-1 text-[13px] text-red-600">{shown}</p> : hint && <p className="mt-1 text-[13px] text-slate-500">{hint}</p>}
    </div>
  )
}
