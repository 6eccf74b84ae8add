if redis.call('hexists', KEYS[2], ARGV[2]) == 1 then
    return redis.error_reply('OPERATION_ALREADY_EXECUTED')
end

local current = redis.call('get', KEYS[1])
if current == false then
    return redis.error_reply('KEY_NOT_FOUND')
end
if tonumber(current) == nil then
    return redis.error_reply('current value is not a number')
end
if tonumber(current) < tonumber(ARGV[1]) then
    return redis.error_reply('INVENTORY_NOT_ENOUGH')
end

local new = tonumber(current) - tonumber(ARGV[1])
redis.call('set', KEYS[1], tostring(new))

local time = redis.call("time")
local currentTimeMillis = (time[1] * 1000) + math.floor(time[2] / 1000)

redis.call('hset', KEYS[2], ARGV[2], cjson.encode({
    action = "increase",
    from = current,
    to = new,
    change = ARGV[1],
    by = ARGV[2],
    timestamp = currentTimeMillis
}))

return new
