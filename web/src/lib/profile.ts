/** What the signup form remembers in this browser, so the launch page can suggest a tenant name. */
export const PROFILE_KEY = 'tenantplane.profile';

export interface Profile {
  email?: string;
  company?: string;
  name?: string;
}

export function readProfile(): Profile {
  try {
    return (JSON.parse(localStorage.getItem(PROFILE_KEY) ?? '{}') as Profile) ?? {};
  } catch {
    return {};
  }
}

export function saveProfile(profile: Profile): void {
  localStorage.setItem(PROFILE_KEY, JSON.stringify(profile));
}

/** A valid tenant name (3–30 of a-z, 0-9, dashes, starting with a letter) from a company name or an email address. */
export function suggestTenantName(company: string | undefined, email: string | undefined): string {
  const source = company?.trim() || (email ?? '').split('@')[0] || '';
  let name = source
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 30)
    .replace(/-+$/, '');
  if (name.length < 3) name = `${name || 'site'}-app`.replace(/^-/, '');
  return name;
}
