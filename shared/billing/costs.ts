/**
 * Where a tenant's daily costs live: `tenants/{id}/costs/{yyyy-mm-dd}`, one
 * document per day with the totals per service. The aggregation job writes
 * them; the API and portal read them. This module is the only one naming them.
 */
export const costsPath = (tenantId: string) => `tenants/${tenantId}/costs`;
export const costPath = (tenantId: string, day: string) => `${costsPath(tenantId)}/${day}`;
