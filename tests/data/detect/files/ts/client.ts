import Anthropic from "@anthropic-ai/sdk";

const ANTHROPIC_KEY = "sk-ant-api03-7s3qaCHwsmoUXeWUErXw537_KpbZnfsug_nq-I6U9FyehmVql9dTwhPslXi7uL6U5Q_8qre6TeUNjlWFzxAjJxa36BfsaAA";
export const client = new Anthropic({ apiKey: ANTHROPIC_KEY });

export const HF_TOKEN: string = "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";
