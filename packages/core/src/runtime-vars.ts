/**
 * Names of the per-node variables the rendered script defines, in one place: the planner puts them
 * into processes' argv and env, the renderer sets and reads them.
 */
import { variable, type Word } from "./word.js";

/** `DYN_NODE_IP_<k>`: node k's routable IPv4 address. */
export function nodeIpVar(k: number): Word {
  return cached(nodeIps, k, "DYN_NODE_IP_");
}

/** `DYN_HOST_<k>`: node k's SLURM node name (for --nodelist). */
export function hostVar(k: number): Word {
  return cached(hosts, k, "DYN_HOST_");
}

// Indexed by node: every process asks for its node's and its leader's, so building the name and
// looking it up in variable()'s map each time would be most of the cost at thousands of nodes.
const nodeIps: Word[] = [];
const hosts: Word[] = [];
function cached(table: Word[], k: number, prefix: string): Word {
  let word = table[k];
  if (!word) {
    word = variable(`${prefix}${k}`);
    table[k] = word;
  }
  return word;
}
