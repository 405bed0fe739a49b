// Shapes of dtmd's JSON replies (see the API contract in console/README.md).

export type TransStatus = 'prepared' | 'submitted' | 'aborting' | 'succeed' | 'failed';
export const STATUSES: TransStatus[] = ['prepared', 'submitted', 'aborting', 'succeed', 'failed'];
export const TRANS_TYPES = ['saga', 'tcc', 'msg', 'xa', 'workflow'];

export interface Global {
  id?: number;
  gid: string;
  trans_type?: string;
  status?: string;
  protocol?: string;
  create_time?: string | null;
  update_time?: string | null;
  finish_time?: string | null;
  rollback_time?: string | null;
  result?: string;
  rollback_reason?: string;
  options?: string;
  custom_data?: string;
  next_cron_interval?: number;
  next_cron_time?: string | null;
  owner?: string;
  ext_data?: string;
  query_prepared?: string;
  timeout_to_fail?: number;
  retry_interval?: number;
  request_timeout?: number;
  wait_result?: boolean;
  concurrent?: boolean;
  retry_limit?: number;
  retry_count?: number;
  passthrough_headers?: string[];
  branch_headers?: Record<string, string>;
}

export interface Branch {
  id?: number;
  gid?: string;
  url?: string;
  bin_data?: string;
  branch_id: string;
  op: string;
  status?: string;
  create_time?: string | null;
  update_time?: string | null;
  finish_time?: string | null;
  rollback_time?: string | null;
}

export interface Attempt {
  id: number;
  branch_id: string;
  op: string;
  start_time?: string | null;
  duration_ms?: number;
  target?: string;
  outcome: string;
  code?: number;
  detail?: string;
  owner?: string;
}

export interface AllReply {
  transactions: Global[] | null;
  next_position?: string;
}

export interface QueryReply {
  transaction: Global | null;
  branches: Branch[] | null;
}

export interface Summary {
  counts: Partial<Record<TransStatus, number>>;
  count_cap?: number;
  overdue?: number;
}

export interface KV {
  id?: number;
  cat?: string;
  k: string;
  v: string;
  version?: number;
  create_time?: string | null;
  update_time?: string | null;
}

export interface Subscriber {
  url: string;
  remark?: string;
}

export type Role = 'admin' | 'reader' | 'client' | 'none';

export interface ServerInfo {
  version?: string;
  instance?: string;
  store?: string;
  started_at?: string;
  uptime_seconds?: number;
  auth_enabled?: boolean;
  role?: Role;
  config?: unknown;
}
