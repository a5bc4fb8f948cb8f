import { useQuery, useQueryClient } from '@tanstack/react-query'
import { auth, api } from './api.js'

// Session state from allauth: {user, pending: [flow ids]} or {user: null}.
export function useSession() {
  return useQuery({
    queryKey: ['session'],
    queryFn: async () => {
      const { status, data } = await auth.session()
      const flows = data?.data?.flows || []
      return {
        user: status === 200 ? data?.data?.user || null : null,
        pending: flows.filter((f) => f.is_pending).map((f) => f.id),
      }
    },
    staleTime: 60_000,
    retry: 1,
  })
}

export function useAuthConfig() {
  return useQuery({
    queryKey: ['auth-config'],
    queryFn: auth.config,
    staleTime: Infinity,
    retry: 1,
  })
}

export function useMe(enabled = true) {
  return useQuery({ queryKey: ['me'], queryFn: api.me, enabled, staleTime: 60_000 })
}

export function useProviders() {
  return useQuery({ queryKey: ['providers'], queryFn: api.providers, staleTime: 300_000 })
}

// Apply an allauth answer ({status, data}) to the cached session, so guards react at once.
export function useApplyAuthResult() {
  const qc = useQueryClient()
  return (result) => {
    const flows = result?.data?.data?.flows || []
    qc.setQueryData(['session'], {
      user: result?.status === 200 ? result?.data?.data?.user || null : null,
      pending: flows.filter((f) => f.is_pending).map((f) => f.id),
    })
    qc.removeQueries({ queryKey: ['me'] })
  }
}
