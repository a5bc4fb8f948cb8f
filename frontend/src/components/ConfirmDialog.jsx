import { Dialog, DialogBackdrop, DialogPanel, DialogTitle, Description } from '@headlessui/react'
import { AlertTriangle } from 'lucide-react'
import { Button } from './Button.jsx'

// A destructive action's confirmation. `title` names the object; children add details or inputs.
export function ConfirmDialog({
  open,
  onClose,
  onConfirm,
  title,
  description,
  confirmLabel = 'Confirm',
  danger = true,
  loading = false,
  confirmDisabled = false,
  children,
}) {
  return (
    <Dialog open={open} onClose={loading ? () => {} : onClose} className="relative z-50">
      <DialogBackdrop transition className="fixed inset-0 bg-slate-900/30 transition-opacity duration-150 data-closed:opacity-0" />
      <div className="fixed inset-0 flex items-center justify-center p-4">
        <DialogPanel
          transition
          data-testid="confirm-dialog"
          className="w-full max-w-md rounded-lg border border-slate-200 bg-white p-5 shadow-xl transition duration-150 data-closed:scale-95 data-closed:opacity-0"
        >
          <div className="flex gap-3">
            {danger && (
              <div className="grid size-9 shrink-0 place-items-center rounded-full bg-red-50 text-red-600">
                <AlertTriangle className="size-4" aria-hidden />
              </div>
            )}
            <div className="min-w-0 flex-1">
              <DialogTitle className="text-[15px] font-semibold text-slate-900">{title}</DialogTitle>
              {description && <Description className="mt-1 text-sm text-slate-600">{description}</Description>}
              {children && <div className="mt-3">{children}</div>}
            </div>
          </div>
          <div className="mt-5 flex justify-end gap-2">
            <Button data-testid="confirm-cancel" onClick={onClose} disabled={loading}>
              Cancel
            </Button>
            <Button
              data-testid="confirm-ok"
              variant={danger ? 'danger' : 'primary'}
              onClick={onConfirm}
              loading={loading}
              disabled={confirmDisabled}
            >
              {confirmLabel}
            </Button>
          </div>
        </DialogPanel>
      </div>
    </Dialog>
  )
}
