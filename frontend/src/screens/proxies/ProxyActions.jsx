import { useState } from 'react'
import { Menu, MenuButton, MenuItem, MenuItems } from '@headlessui/react'
import { ChevronDown, CopyPlus, Eraser, Pencil, Play, Square, Trash2, Zap } from 'lucide-react'
import { Button, IconButton } from '../../components/Button.jsx'
import { ConfirmDialog } from '../../components/ConfirmDialog.jsx'
import { useProxyActions } from './useProxyActions.js'

// Start / Stop ▾ (graceful, force) / Edit / Clone / Clear cache / Delete for one proxy.
// Clone shows only with `onCloned`, which is given the new proxy.
export function ProxyActions({ proxy, onEdit, onDeleted, onCloned }) {
  const a = useProxyActions(proxy)
  const [confirm, setConfirm] = useState(null) // 'cache' | 'delete' | null
  const n = proxy.name
  const live = ['running', 'starting', 'stopping'].includes(proxy.status)
  const busy = a.start.isPending || a.stopGraceful.isPending || a.stopForce.isPending

  const doConfirm = () => {
    const m = confirm === 'cache' ? a.clearCache : a.remove
    m.mutate(undefined, {
      onSettled: () => setConfirm(null),
      onSuccess: () => confirm === 'delete' && onDeleted && onDeleted(),
    })
  }

  return (
    <div className="flex items-center justify-end gap-1">
      {live ? (
        <div className="inline-flex">
          <Button
            size="sm"
            className="rounded-r-none"
            onClick={() => a.stopGraceful.mutate()}
            loading={a.stopGraceful.isPending}
            disabled={busy || proxy.status === 'stopping'}
            data-testid={`stop-graceful-${n}`}
            aria-label={`Stop ${n} gracefully`}
            title="Stop after in-flight requests finish"
          >
            {!a.stopGraceful.isPending && <Square className="size-3" aria-hidden />}
            Stop
          </Button>
          <Menu>
            <MenuButton
              as={Button}
              size="sm"
              className="-ml-px rounded-l-none px-1.5"
              disabled={busy}
              aria-label={`More stop options for ${n}`}
              data-testid={`stop-menu-${n}`}
            >
              <ChevronDown className="size-3.5" aria-hidden />
            </MenuButton>
            <MenuItems anchor="bottom end" className="z-50 mt-1 w-56 rounded-md border border-slate-200 bg-white p-1 text-sm shadow-lg focus:outline-none">
              <MenuItem>
                <button type="button" onClick={() => a.stopGraceful.mutate()} data-testid={`stop-graceful-menu-${n}`} className="flex w-full items-start gap-2 rounded px-2 py-1.5 text-left data-focus:bg-slate-100">
                  <Square className="mt-0.5 size-3.5 text-slate-500" aria-hidden />
                  <span>
                    <span className="block font-medium text-slate-900">Graceful stop</span>
                    <span className="block text-xs text-slate-500">Finish in-flight requests first</span>
                  </span>
                </button>
              </MenuItem>
              <MenuItem>
                <button type="button" onClick={() => a.stopForce.mutate()} data-testid={`stop-force-${n}`} className="flex w-full items-start gap-2 rounded px-2 py-1.5 text-left data-focus:bg-slate-100">
                  <Zap className="mt-0.5 size-3.5 text-red-500" aria-hidden />
                  <span>
                    <span className="block font-medium text-slate-900">Force stop</span>
                    <span className="block text-xs text-slate-500">Drop in-flight requests now</span>
                  </span>
                </button>
              </MenuItem>
            </MenuItems>
          </Menu>
        </div>
      ) : (
        <Button size="sm" onClick={() => a.start.mutate()} loading={a.start.isPending} data-testid={`start-${n}`} aria-label={`Start ${n}`}>
          {!a.start.isPending && <Play className="size-3" aria-hidden />}
          Start
        </Button>
      )}
      {onEdit && (
        <IconButton label={`Edit ${n}`} onClick={onEdit} data-testid={`edit-${n}`}>
          <Pencil className="size-3.5" />
        </IconButton>
      )}
      {onCloned && (
        <IconButton
          label={`Clone ${n}`}
          onClick={() => a.clone.mutate(undefined, { onSuccess: onCloned })}
          disabled={a.clone.isPending}
          data-testid={`clone-${n}`}
        >
          <CopyPlus className="size-3.5" />
        </IconButton>
      )}
      <IconButton label={`Clear cache of ${n}`} onClick={() => setConfirm('cache')} data-testid={`clear-cache-${n}`}>
        <Eraser className="size-3.5" />
      </IconButton>
      <IconButton label={live ? `Stop ${n} before deleting it` : `Delete ${n}`} onClick={() => setConfirm('delete')} disabled={live} data-testid={`delete-${n}`} className="hover:text-red-600">
        <Trash2 className="size-3.5" />
      </IconButton>
      <ConfirmDialog
        open={confirm === 'cache'}
        onClose={() => setConfirm(null)}
        onConfirm={doConfirm}
        loading={a.clearCache.isPending}
        title={`Clear the cache of “${n}”?`}
        description={`Every cached response of ${n} is deleted. The next matching requests go to the upstream provider again. This cannot be undone.`}
        confirmLabel="Clear cache"
      />
      <ConfirmDialog
        open={confirm === 'delete'}
        onClose={() => setConfirm(null)}
        onConfirm={doConfirm}
        loading={a.remove.isPending}
        title={`Delete “${n}”?`}
        description={`${n}, its failure settings and its cache are deleted. Its logs stay until they are purged.`}
        confirmLabel="Delete proxy"
      />
    </div>
  )
}
