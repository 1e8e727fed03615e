/** @herald/hono against the conformance suite on Node (`conformance-runtimes.ts`). */
import { describeOn } from './conformance-runtimes.ts';

describeOn('node');
