import type { Db } from '../connect.ts';

/** Browsers that have signed in to an account (by keyed hash of their device cookie). */
export function createDeviceQueries(db: Db) {
  return {
    async isKnown(accountId: string, deviceHash: string, since: Date): Promise<boolean> {
      const row = await db('known_devices').where({ account_id: accountId, device_hash: deviceHash }).andWhere('last_success_at', '>=', since).first('account_id');
      return row !== undefined;
    },
    async remember(accountId: string, deviceHash: string): Promise<void> {
      await db('known_devices')
        .insert({ account_id: accountId, device_hash: deviceHash, last_success_at: db.fn.now() })
        .onConflict(['account_id', 'device_hash'])
        .merge({ last_success_at: db.fn.now() });
    },
    async forgetOlderThan(before: Date): Promise<number> {
      return db('known_devices').where('last_success_at', '<', before).delete();
    },
  };
}

export type DeviceQueries = ReturnType<typeof createDeviceQueries>;
