import { useEffect, useState } from 'react'
import { useQuery } from '@tanstack/react-query'
import { ConfirmDialog } from '../../components/ConfirmDialog.jsx'
import { TextField } from '../../components/Field.jsx'
import { api } from '../../lib/api.js'
import { fmtCount, fmtInt, localToIso } from '../../lib/format.js'

// Purge logs in a date range; says how many entries will go before anything is deleted.
export function PurgeDialog({ open, onClose, onPurge, loading }) {
  const [range, setRange] = useState({ since: '', until: '' })
  useEffect(() => {
    if (open) setRange({ since: '', until: '' })
  }, [open])
  const params = { since: localToIso(range.since), until: localToIso(range.until) }
  const ready = Boolean(params.since || params.until)
  const count = useQuery({
    queryKey: ['logs-count', params],
    queryFn: () => api.logs({ ...params, page_size: 1 }),
    enabled: open && ready,
  })
  const n = count.data?.count
  const more = Boolean(count.data?.totalIsLowerBound)
  const entries = n === 1 && !more ? 'entry' : 'entries'

  const description = !ready
    ? 'Choose where the range starts, ends, or both. Entries inside it are deleted for good.'
    : count.isLoading
      ? 'Counting entries in this range…'
      : n === undefined
        ? 'Entries in this range are deleted for good.'
        : `${more ? 'More than ' : ''}${fmtInt(n)} ${entries} will be deleted for good.`

  return (
    <ConfirmDialog
      open={open}
      onClose={onClose}
      onConfirm={() => onPurge(params)}
      loading={loading}
      confirmDisabled={!ready}
      title="Purge logs"
      description={<span data-testid="purge-count">{description}</span>}
      confirmLabel={n !== undefined && ready ? `Delete ${fmtCount(n, more)} ${entries}` : 'Delete entries'}
    >
      <div className="grid grid-cols-2 gap-3">
        <TextField label="From" type="datetime-local" value={range.since} onChange={(e) => setRange({ ...range, since: e.target.value })} data-testid="purge-since" />
        <TextField label="To" type="datetime-local" value={range.until} onChange={(e) => setRange({ ...range, until: e.target.value })} data-testid="purge-until" />
      </div>
    </ConfirmDialog>
  )
}
