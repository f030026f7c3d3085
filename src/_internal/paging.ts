/** @internal API paging: `{ page_size, after, before }` in, `{ entries, page_info }` out. */
import { InvalidParamsError } from "../errors.js";
import type { PageRequest, PageResult } from "../store/types.js";

/** Cursor pagination parameters of every list call. */
export interface PageParams {
  /** 1–50 items, default 50. */
  page_size?: number;
  /** The `page_info.after` of the previous page. */
  after?: string | null;
  /** The `page_info.before` of the next page. */
  before?: string | null;
}

/** Where a page is in its list. */
export interface PageInfo {
  __typename: "PageInfo";
  /** Pass as `after` for the next page; null on the last. */
  after: string | null;
  /** Pass as `before` for the previous page; null on the first. */
  before: string | null;
  page_size: number;
}

/** @internal Validates paging params into a store request. */
export function toPageRequest(params: PageParams | undefined, max = 50): PageRequest {
  const size = params?.page_size ?? max;
  if (!Number.isInteger(size) || size < 1 || size > max) {
    throw new InvalidParamsError(
      `Expected page_size to be an integer from 1 to ${max}, received ${String(size)}.`,
      [
        {
          field: "page_size",
          type: "range",
          message: `expected an integer from 1 to ${max}, received ${String(size)}`,
        },
      ],
    );
  }
  const request: PageRequest = { limit: size };
  if (params?.after) request.after = params.after;
  if (params?.before) request.before = params.before;
  return request;
}

/** @internal A store page as the API's page_info. */
export function pageInfo<T>(page: PageResult<T>, request: PageRequest): PageInfo {
  return {
    __typename: "PageInfo",
    after: page.after,
    before: page.before,
    page_size: request.limit,
  };
}
