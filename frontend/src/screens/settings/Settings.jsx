import { PageHeader } from '../../components/PageHeader.jsx'
import { GlobalSettingsCard } from './GlobalSettingsCard.jsx'
import { ProfileCard } from './ProfileCard.jsx'
import { TokensCard } from './TokensCard.jsx'

export default function Settings() {
  return (
    <>
      <PageHeader title="Settings" description="API tokens, your profile, and server-wide settings." />
      <div className="space-y-6">
        <TokensCard />
        <ProfileCard />
        <GlobalSettingsCard />
      </div>
    </>
  )
}
