// The dispatcher console: plain JavaScript over the JSON API, no library.
// Every element is built with createElement and text nodes (never
// innerHTML), so nothing a resident typed can become markup.
'use strict';
(() => {
  const NEAR_MS = 60 * 60 * 1000; // a deadline within the hour turns amber
  const OFFER_NEAR_MS = 10 * 60 * 1000; // an offer within ten minutes of expiring
  const S = {
    token: sessionStorage.getItem('gridloop.token') || '',
    lang: localStorage.getItem('gridloop.lang') === 'en' ? 'en' : 'zh',
    me: null,
    offset: 0, // server clock minus browser clock, in ms
    position: 0, // the last log position shown
    filters: { status: '', scope: '', category: '', holder: '', overdue: false, q: '', offset: 0, closed: false },
    alerts: { on: false, audio: null, unseen: 0, seen: new Set() },
    view: '',
    ticketId: '',
    ticketStatus: '',
    flash: new Set(),
    timers: {},
    following: false,
    stream: null,
  };

  const T = {
    zh: {
      skip: '跳到正文', console: '调度台', nav_board: '工单看板', nav_metrics: '指标', nav_qr: '扫码报事二维码', logout: '退出',
      live_on: '实时', live_off: '未连接', login_title: '调度员登录', token_label: '访问令牌（由 gridloop token create 生成）',
      login: '登录', bad_token: '令牌无效或已失效。', lang_other: 'English',
      role_dispatcher: '调度员', role_auditor: '审计员', 'role_grid worker': '网格员', role_grid_worker: '网格员',
      role_volunteer: '志愿者', role_department: '部门', role_resident: '居民', role_system: '系统',
      level_district: '区级', level_street: '街道级', level_community: '社区级', level_grid: '网格', 'level_sub-grid': '分片',
      tier_grid: '网格', tier_community: '社区', tier_street: '街道', tier_district: '区',
      st_: '全部未结', st_submitted: '待分拨', st_triaged: '待派单', st_offered: '抢单中', st_accepted: '已接单',
      st_in_progress: '办理中', st_escalated: '已上报', st_awaiting_feedback: '待评价', st_resolved: '已办结',
      st_reopened: '已重办', st_closed: '已销号', st_cancelled: '已撤销', st_duplicate: '重复件',
      cat_: '全部类别', cat_information_collection: '信息核采', cat_grid_patrol: '网格巡查', cat_community_service: '社区服务',
      cat_street_community_coordination: '街社统筹',
      dl_offer_expiry: '抢单截止', dl_accept: '受理时限', dl_resolve: '办结时限', dl_summons: '报到时限', dl_feedback: '评价期',
      f_status: '状态', f_place: '地点', f_category: '类别', f_holder: '承办人（如 volunteer:V-7）', f_overdue: '只看超时',
      f_all_places: '全部', f_reset: '重置',
      c_id: '工单', c_item: '事项', c_place: '地点', c_status: '状态', c_holder: '承办', c_submitted: '提交', c_deadline: '下一时限',
      urgent: '紧急', total: '共 {0} 件（显示 {1}）', none: '暂无工单', left: '剩 {0}', over: '超时 {0}',
      overdue: '已超时', overdue_count: '其中已超时 {0} 件', route_none: '工单已办结或已结束，无需推荐人选。',
      route_tier_team: '按路由规则：已上报至{0}，交网格所属团队 {1}。', route_tier_department: '按路由规则：已上报至{0}，交职能部门 {1}。',
      tz_note: '时间为 {0} 时区',
      d: '天', h: '时', m: '分', s: '秒',
      nt_line: '居民通知 {0}：待发 {1}，已发 {2}，失败 {3}', nt_error: '，最近错误：{0}',
      em_on: '⚠ 应急模式（平急转换）已启动：{0}', em_since: '，自 {0} 起', em_reason: '，原因：{0}',
      em_title: '平急转换', em_state_on: '{0} 处于应急模式。', em_state_off: '{0} 处于常态。',
      em_declare: '启动应急模式', em_lift: '解除应急模式', em_confirm_declare: '确认启动', em_confirm_lift: '确认解除',
      em_reason_label: '原因（必填）', em_cancel: '取消', em_sure: '此操作对 {0} 内所有人可见，请确认。',
      back: '← 返回看板', t_facts: '概况', t_desc: '诉求', t_timeline: '全过程', t_cands: '推荐人选', t_actions: '处置',
      f_item: '事项', f_grid: '网格', f_tier: '层级', f_holder2: '承办', f_urgency: '紧急程度', f_deadlines: '时限',
      f_version: '版本', normal: '一般', no_holder: '无',
      route_offer: '按路由规则：在{0}范围内向志愿者派单（第 {1} 轮）。', route_team: '按路由规则：范围内无合适志愿者，交网格所属团队 {0}。',
      route_department: '按路由规则：交职能部门 {0}。', route_wider: '以下为更大范围（{0}）内的推荐志愿者：', route_self_handle: '按路由规则：网格员巡办合一，现场处置。',
      v_line: '{0} · 团队 {1} · 住 {2} · 在办 {3}/{4} · 近期 {5} 单', other_cands: '其他人选（逗号分隔，如 V-7, TM-3）',
      minutes: '有效分钟', a_offer: '派单（抢单）', a_assign: '指派', a_escalate: '上报', a_summon: '吹哨（召集部门）',
      a_insist: '坚持原派（退单仲裁）', a_grant_ext: '批准延期', a_refuse_ext: '不予延期', a_urge: '催办', ext_asked: '申请延期至 {0}：{1}', returned_by: '{0} 退单', urges: '已催办 {0} 次',
      a_duplicate: '标记重复', a_close: '销号', a_cancel: '撤销', a_note: '备注', assign_to: '指派给', reason: '理由',
      reason_req: '理由（必填）', note_opt: '说明（选填）', dup_of: '与之重复的工单号', esc_reason: '上报原因',
      er_difficulty: '处置困难', er_whistle: '吹哨督办', er_emergency: '紧急直报区级', er_timeout: '超时', er_complaint: '投诉',
      other: '其他（填写）', other_assignee: '其他承办（如 V-7、TM-3、department:civil_affairs）', pick_one: '请至少选择一人。',
      done: '已执行：{0}', refused: '未能执行：{0}', need_reason: '请填写理由。', departments: '部门（最多 8 个）',
      m_title: '指标：{0}及以下', m_by: '分组', by_street: '按街道', by_community: '按社区', by_grid: '按网格',
      m_period: '周期', p_auto: '自动', p_day: '日', p_week: '周', p_month: '月', m_from: '起', m_to: '止', m_go: '刷新',
      m_csv: '导出 CSV', r_completion: '办结率', r_on_time: '按期办结率', r_satisfaction: '满意率', r_in_grid: '小事不出网格率',
      r_acceptance: '受理率', r_closed_loop: '闭环率', r_submitted: '工单数', m_places: '各地情况', m_worst: '表现最差的网格',
      m_nodata: '暂无数据', m_range: '{0} 至 {1}，按{2}', m_place: '地点', no_data: '无数据',
      ev_submitted: '{0} 提交，{1}；受理时限 {2}，办结时限 {3}', ev_triaged: '分拨：{0}', ev_self_handled: '网格员 {0} 巡办合一',
      ev_offered: '第 {0} 轮派单给 {1}，{2} 截止', ev_offer_expired: '第 {0} 轮派单结束（{1}）', ev_accepted: '{0} 接单',
      ev_declined: '{0} 拒绝：{1}', ev_started: '{0} 开始办理', ev_note_added: '备注：{0}', ev_escalated: '上报 {0} → {1}（{2}）{3}',
      ev_reassigned: '指派给 {0}：{1}', ev_resolved: '{0} 办结，用时 {1} 分钟：{2}', ev_feedback_given: '居民评价：{0} {1}',
      ev_reopened: '重办：{0}', ev_closed: '销号（{0}）', ev_cancelled: '撤销：{0}', ev_marked_duplicate: '与 {0} 重复',
      ev_summoned: '吹哨召集 {0}，{1} 前报到', ev_summons_answered: '{0} 报到：{1}',
      mode_volunteer: '志愿者', mode_self_handle: '巡办合一', mode_department: '部门', xr_deadline: '到时', xr_all_declined: '全部拒绝',
      rt_satisfied: '满意', rt_basically_satisfied: '基本满意', rt_unsatisfied: '不满意', cr_confirmed: '居民确认', cr_no_feedback: '逾期未评价',
      k_volunteer: '志愿者', k_team: '团队', k_department: '部门', k_grid_worker: '网格员',
      new_event: '{0}：{1}', loading: '加载中…',
      nav_intake: '来电来访登记', nav_missed: '超时工单', f_q: '搜索（工单号、电话后四位、地址或诉求关键词）', f_search: '搜索',
      page_prev: '上一页', page_next: '下一页', page_of: '第 {0}–{1} 件，共 {2} 件', c_resident: '居民',
      map_title: '网格地图（点击网格筛选看板）', map_clear: '显示全部网格', map_chosen: '已选：{0}', map_rate: '地图着色',
      in_title: '来电来访登记', in_channel: '渠道', ch_phone: '来电', ch_walk_in: '来访', in_name: '居民姓名',
      in_phone: '联系电话', in_address: '地址', in_item: '服务事项', in_grid: '网格（点击地图选择，或按地址自动匹配）',
      in_desc: '诉求内容', in_urgent: '紧急', in_submit: '登记并生成工单', in_done: '已登记：{0}（{1}）', in_returning: '老来电人',
      in_new: '新来电人', in_open: '查看工单', in_note: '姓名、电话、地址存入加密的个人信息库，不写入日志。',
      missed_title: '超时工单（含已被计时器推进或已办结的）', missed_closed: '包含已结束的工单',
      al_enable: '开启紧急提醒', al_on: '紧急提醒已开启', al_title: '紧急工单', al_body: '{0}：{1}',
      print: '打印', t_audit: '审计', au_as_of: '截至时刻', au_go: '查看', au_chain_ok: '哈希链校验通过：{0} 个事件',
      au_chain_bad: '哈希链断裂：{0}', au_later: '之后还有 {0} 个事件未显示', au_state: '当时状态：{0}', au_deadlines: '时限检查',
      ws_moved: '您的工作台在 {0}，正在跳转…', ws_none: '此账号没有看板权限。志愿者通过聊天机器人接单。', ws_queue: '我的待办',
      k_resident: '居民', erased: '已删除',
      err_unauthorized: '令牌无效', err_not_permitted: '无此权限', err_illegal_transition: '工单当前状态不允许此操作',
      err_not_found: '未找到', err_invalid_input: '输入有误', err_already_taken: '已被他人接单', err_not_admitted: '该事项未准入网格',
      err_offer_expired: '派单已过期', err_not_offered: '未向其派单', err_not_holder: '非承办人', err_rate_limited: '请求过于频繁',
      err_version_conflict: '工单刚被他人更新，请重试',
      err_unknown_reference: '所指对象不存在', err_assignee_unavailable: '该志愿者已停用或退出', err_duplicate_cycle: '重复工单不能互相指向',
      err_location_outside_grid: '位置不在所选网格内', err_idempotency_key_reused: '重复提交了不同的请求',
    },
    en: {
      skip: 'Skip to content', console: 'dispatch console', nav_board: 'Board', nav_metrics: 'Metrics', nav_qr: 'QR codes', logout: 'Log out',
      live_on: 'live', live_off: 'offline', login_title: 'Dispatcher login', token_label: 'Access token (from gridloop token create)',
      login: 'Log in', bad_token: 'The token is not valid.', lang_other: '中文',
      role_dispatcher: 'dispatcher', role_auditor: 'auditor', 'role_grid worker': 'grid worker', role_grid_worker: 'grid worker',
      role_volunteer: 'volunteer', role_department: 'department', role_resident: 'resident', role_system: 'system',
      level_district: 'district', level_street: 'street', level_community: 'community', level_grid: 'grid', 'level_sub-grid': 'sub-grid',
      tier_grid: 'grid', tier_community: 'community', tier_street: 'street', tier_district: 'district',
      st_: 'all open', st_submitted: 'submitted', st_triaged: 'to dispatch', st_offered: 'offered', st_accepted: 'accepted',
      st_in_progress: 'in progress', st_escalated: 'escalated', st_awaiting_feedback: 'awaiting feedback', st_resolved: 'resolved',
      st_reopened: 'reopened', st_closed: 'closed', st_cancelled: 'cancelled', st_duplicate: 'duplicate',
      cat_: 'all categories', cat_information_collection: 'information collection', cat_grid_patrol: 'grid patrol',
      cat_community_service: 'community service', cat_street_community_coordination: 'street–community coordination',
      dl_offer_expiry: 'offer ends', dl_accept: 'accept by', dl_resolve: 'resolve by', dl_summons: 'report by', dl_feedback: 'feedback until',
      f_status: 'Status', f_place: 'Place', f_category: 'Category', f_holder: 'Holder (e.g. volunteer:V-7)', f_overdue: 'Overdue only',
      f_all_places: 'all', f_reset: 'Reset',
      c_id: 'Ticket', c_item: 'Item', c_place: 'Place', c_status: 'Status', c_holder: 'Holder', c_submitted: 'Submitted', c_deadline: 'Next deadline',
      urgent: 'urgent', total: '{0} tickets ({1} shown)', none: 'No tickets', left: '{0} left', over: '{0} overdue',
      overdue: 'overdue', overdue_count: '{0} of them missed a deadline', route_none: 'Resolved or closed: nothing to suggest.',
      route_tier_team: 'Routing policy: escalated to the {0}; the owning team {1}.', route_tier_department: 'Routing policy: escalated to the {0}; department {1}.',
      tz_note: 'Times in {0}',
      d: 'd', h: 'h', m: 'm', s: 's',
      nt_line: 'Resident notices by {0}: {1} waiting, {2} sent, {3} failed', nt_error: '; last error: {0}',
      em_on: '⚠ Emergency mode is on: {0}', em_since: ', since {0}', em_reason: ', reason: {0}',
      em_title: 'Emergency mode', em_state_on: '{0} is in emergency mode.', em_state_off: '{0} is in normal mode.',
      em_declare: 'Declare emergency', em_lift: 'Lift emergency', em_confirm_declare: 'Confirm: declare', em_confirm_lift: 'Confirm: lift',
      em_reason_label: 'Reason (required)', em_cancel: 'Cancel', em_sure: 'Everyone in {0} will see this. Please confirm.',
      back: '← Back to the board', t_facts: 'Facts', t_desc: 'Request', t_timeline: 'Timeline', t_cands: 'Suggested', t_actions: 'Actions',
      f_item: 'Item', f_grid: 'Grid', f_tier: 'Tier', f_holder2: 'Holder', f_urgency: 'Urgency', f_deadlines: 'Deadlines',
      f_version: 'Version', normal: 'normal', no_holder: 'none',
      route_offer: 'Routing policy: offer to volunteers within {0} (round {1}).', route_team: 'Routing policy: no volunteer fits; the owning team {0}.',
      route_department: 'Routing policy: department {0}.', route_wider: 'Volunteers suggested from the wider ring ({0}):', route_self_handle: 'Routing policy: the grid worker handles it on the spot.',
      v_line: '{0} · team {1} · lives in {2} · holds {3}/{4} · {5} recent', other_cands: 'Others (comma-separated, e.g. V-7, TM-3)',
      minutes: 'Minutes open', a_offer: 'Offer', a_assign: 'Assign', a_escalate: 'Escalate', a_summon: 'Summon departments',
      a_insist: 'Insist (overrule the return)', a_grant_ext: 'Grant extension', a_refuse_ext: 'Refuse extension', a_urge: 'Urge', ext_asked: 'Extension asked until {0}: {1}', returned_by: 'Returned by {0}', urges: 'Urged {0} times',
      a_duplicate: 'Mark duplicate', a_close: 'Close', a_cancel: 'Cancel ticket', a_note: 'Note', assign_to: 'Assign to', reason: 'Reason',
      reason_req: 'Reason (required)', note_opt: 'Note (optional)', dup_of: 'Duplicate of ticket', esc_reason: 'Why',
      er_difficulty: 'too hard here', er_whistle: 'whistle (supervise)', er_emergency: 'emergency, to the district', er_timeout: 'missed deadline', er_complaint: 'complaint',
      other: 'other (type below)', other_assignee: 'Other holder (V-7, TM-3, department:civil_affairs)', pick_one: 'Choose at least one.',
      done: 'Done: {0}', refused: 'Refused: {0}', need_reason: 'Please give a reason.', departments: 'Departments (up to 8)',
      m_title: 'Metrics: {0} and below', m_by: 'By', by_street: 'street', by_community: 'community', by_grid: 'grid',
      m_period: 'Period', p_auto: 'auto', p_day: 'day', p_week: 'week', p_month: 'month', m_from: 'From', m_to: 'To', m_go: 'Refresh',
      m_csv: 'Export CSV', r_completion: 'Completion', r_on_time: 'On time', r_satisfaction: 'Satisfaction', r_in_grid: 'In grid',
      r_acceptance: 'Acceptance', r_closed_loop: 'Closed loop', r_submitted: 'Tickets', m_places: 'By place', m_worst: 'Worst-performing grids',
      m_nodata: 'No data yet', m_range: '{0} to {1}, per {2}', m_place: 'Place', no_data: 'no data',
      ev_submitted: 'submitted by {0}: {1}; accept by {2}, resolve by {3}', ev_triaged: 'triaged: {0}', ev_self_handled: 'grid worker {0} handles it on the spot',
      ev_offered: 'offer round {0} to {1}, until {2}', ev_offer_expired: 'offer round {0} ended ({1})', ev_accepted: 'accepted by {0}',
      ev_declined: 'declined by {0}: {1}', ev_started: '{0} started', ev_note_added: 'note: {0}', ev_escalated: 'escalated {0} → {1} ({2}) {3}',
      ev_reassigned: 'assigned to {0}: {1}', ev_resolved: 'resolved by {0} in {1} min: {2}', ev_feedback_given: 'resident rated it {0} {1}',
      ev_reopened: 'reopened: {0}', ev_closed: 'closed ({0})', ev_cancelled: 'cancelled: {0}', ev_marked_duplicate: 'duplicate of {0}',
      ev_summoned: 'summoned {0}, to report by {1}', ev_summons_answered: '{0} reported: {1}',
      mode_volunteer: 'volunteers', mode_self_handle: 'self-handle', mode_department: 'department', xr_deadline: 'ran out', xr_all_declined: 'all declined',
      rt_satisfied: 'satisfied', rt_basically_satisfied: 'basically satisfied', rt_unsatisfied: 'unsatisfied', cr_confirmed: 'confirmed', cr_no_feedback: 'no feedback',
      k_volunteer: 'volunteer', k_team: 'team', k_department: 'department', k_grid_worker: 'grid worker',
      new_event: '{0}: {1}', loading: 'Loading…',
      nav_intake: 'Log a call', nav_missed: 'Missed deadlines', f_q: 'Search (ticket id, last 4 digits of a phone, address or words)', f_search: 'Search',
      page_prev: 'Previous', page_next: 'Next', page_of: '{0}–{1} of {2}', c_resident: 'Resident',
      map_title: 'Map of the grids (click a grid to filter the board)', map_clear: 'All grids', map_chosen: 'Chosen: {0}', map_rate: 'Shade by',
      in_title: 'Log a phone call or a walk-in', in_channel: 'Channel', ch_phone: 'phone call', ch_walk_in: 'walk-in', in_name: 'Resident\'s name',
      in_phone: 'Phone', in_address: 'Address', in_item: 'Service item', in_grid: 'Grid (click the map, or matched from the address)',
      in_desc: 'What they ask for', in_urgent: 'Urgent', in_submit: 'Log and open a ticket', in_done: 'Logged: {0} ({1})', in_returning: 'returning caller',
      in_new: 'new caller', in_open: 'Open the ticket', in_note: 'Name, phone and address go to the encrypted personal store, never the log.',
      missed_title: 'Missed deadlines (also those the timers moved on, or closed since)', missed_closed: 'Include closed tickets',
      al_enable: 'Turn on urgent alerts', al_on: 'Urgent alerts on', al_title: 'Urgent order', al_body: '{0}: {1}',
      print: 'Print', t_audit: 'Audit', au_as_of: 'As of', au_go: 'Show', au_chain_ok: 'Hash chain verified: {0} events',
      au_chain_bad: 'Hash chain broken: {0}', au_later: '{0} later events not shown', au_state: 'Status then: {0}', au_deadlines: 'Deadline checks',
      ws_moved: 'Your workspace is {0}; taking you there…', ws_none: 'This account has no board. Volunteers take orders through the chat bot.', ws_queue: 'My queue',
      k_resident: 'resident', erased: 'erased',
    },
  };

  function t(key, ...args) {
    let text = T[S.lang][key] ?? T.en[key] ?? key;
    args.forEach((a, i) => { text = text.split('{' + i + '}').join(a == null ? '' : String(a)); });
    return text;
  }

  // --- DOM helpers ---------------------------------------------------------
  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    setAttrs(el, attrs);
    append(el, kids);
    return el;
  }
  function svg(tag, attrs, ...kids) {
    const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
    setAttrs(el, attrs);
    append(el, kids);
    return el;
  }
  function setAttrs(el, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') el.setAttribute('class', v);
      else if (k === 'text') el.textContent = v;
      else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  function append(el, kids) {
    for (const kid of kids.flat(3)) {
      if (kid == null || kid === false) continue;
      el.append(kid.nodeType ? kid : String(kid));
    }
  }
  const $ = (sel) => document.querySelector(sel);
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // --- the API ---------------------------------------------------------------
  async function api(method, path, body, key) {
    const headers = { Authorization: 'Bearer ' + S.token };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (key) headers['Idempotency-Key'] = key;
    const response = await fetch(path, { method, headers, cache: 'no-store', body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) {
      const error = new Error((data && data.error && data.error.message) || response.statusText);
      error.status = response.status;
      error.code = data && data.error && data.error.code;
      if (response.status === 401 && path !== '/api/v1/me') logout();
      throw error;
    }
    return data;
  }
  // One Idempotency-Key per user act. A click that repeats an act whose
  // answer never came (the network failed, the server answered 5xx) or is
  // still on its way sends the same key, so the server does the act at
  // most once; an act that was answered (done or refused) forgets its key.
  const actKeys = new Map();
  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return 'console-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  async function post(path, body) {
    const act = path + '\n' + JSON.stringify(body === undefined ? null : body);
    const key = actKeys.get(act) || newKey();
    actKeys.set(act, key);
    try {
      const data = await api('POST', path, body, key);
      actKeys.delete(act);
      return data;
    } catch (error) {
      if (error.status && error.status < 500) actKeys.delete(act);
      throw error;
    }
  }
  // An engine refusal as one plain sentence in the console's language.
  function sentence(error) {
    const known = T[S.lang]['err_' + error.code];
    const detail = error.message || '';
    if (S.lang === 'zh') return known ? known + '（' + detail + '）' : detail;
    return detail.charAt(0).toUpperCase() + detail.slice(1) + (detail.endsWith('.') ? '' : '.');
  }
  function toast(text) {
    const line = h('div', { text });
    $('#toast').append(line);
    setTimeout(() => line.remove(), 5000);
  }

  // --- time ------------------------------------------------------------------
  const now = () => Date.now() + S.offset;
  // Times are shown in the district's time zone, as the server gives it
  // (`/me`'s time_zone), whatever the browser's own zone is.
  function zone() {
    return (S.me && S.me.time_zone) || 'UTC';
  }
  function when(ts, withDate = true) {
    if (!ts) return '';
    const options = { timeZone: zone(), hour: '2-digit', minute: '2-digit', hourCycle: 'h23' };
    if (withDate) Object.assign(options, { month: '2-digit', day: '2-digit' });
    const locale = S.lang === 'zh' ? 'zh-CN' : 'en-GB';
    try {
      return new Intl.DateTimeFormat(locale, options).format(new Date(ts));
    } catch (_) { // a zone this browser does not know: UTC, and say so
      return new Intl.DateTimeFormat(locale, Object.assign(options, { timeZone: 'UTC' })).format(new Date(ts)) + ' UTC';
    }
  }
  function span(ms) {
    const total = Math.floor(Math.abs(ms) / 1000);
    const d = Math.floor(total / 86400), hh = Math.floor((total % 86400) / 3600);
    const mm = Math.floor((total % 3600) / 60), ss = total % 60;
    if (d > 0) return d + t('d') + ' ' + hh + t('h');
    if (hh > 0) return hh + t('h') + ' ' + String(mm).padStart(2, '0') + t('m');
    return mm + t('m') + ' ' + String(ss).padStart(2, '0') + t('s');
  }
  // Every countdown on the page, once a second, against the server's clock.
  function tick() {
    for (const el of document.querySelectorAll('.due[data-at]')) {
      const left = Date.parse(el.dataset.at) - now();
      const near = el.dataset.kind === 'offer_expiry' ? OFFER_NEAR_MS : NEAR_MS;
      el.classList.toggle('past', left <= 0);
      el.classList.toggle('near', left > 0 && left <= near);
      const label = (el.dataset.kind ? t('dl_' + el.dataset.kind) + ' · ' : '');
      el.textContent = label + (left <= 0 ? t('over', span(left)) : t('left', span(left)));
    }
  }
  function due(deadline) {
    if (!deadline) return '';
    const el = h('span', { class: 'due', 'data-at': deadline.at, 'data-kind': deadline.kind, title: when(deadline.at) });
    return el;
  }

  // --- words -----------------------------------------------------------------
  // A holder as the API names it: the name it gave (a person's masked),
  // then the id, so both show.
  function holderName(a, name) {
    if (!a) return t('no_holder');
    const given = name || (S.names && S.names[a.kind + ':' + a.id]);
    if (given) return given + ' (' + a.id + ')';
    if (a.kind === 'department') {
      const d = S.me && (S.me.departments || []).find((x) => x.code === a.id);
      if (d) return placeName(d);
    }
    return t('k_' + a.kind) + ' ' + a.id;
  }
  // A resident as the API gives them: masked name and phone, or erased.
  function residentLine(r) {
    if (!r) return '';
    if (r.erased) return h('span', { class: 'muted' }, t('erased'));
    return [r.name || '', r.phone ? [' ', h('span', { class: 'phone' }, r.phone)] : null];
  }
  function placeName(p) {
    if (!p) return '';
    return (S.lang === 'en' ? p.name_en || p.name : p.name || p.name_en) || p.code;
  }
  function rowPlace(r) { return S.lang === 'en' ? r.place_en || r.place : r.place || r.place_en; }
  function rowItem(r) { return S.lang === 'en' ? r.item_name_en || r.item_name : r.item_name || r.item_name_en; }

  // --- login and the frame --------------------------------------------------
  function applyLanguage() {
    document.documentElement.lang = S.lang === 'zh' ? 'zh-CN' : 'en';
    updateTitle();
    for (const el of document.querySelectorAll('[data-t]')) el.textContent = t(el.dataset.t);
    $('#lang').textContent = t('lang_other');
    $('#lang').lang = S.lang === 'zh' ? 'en' : 'zh-CN';
    setLive(S.live);
    renderWho();
  }
  function setLive(on) {
    S.live = !!on;
    const el = $('#live');
    el.dataset.state = on ? 'on' : 'off';
    el.textContent = t(on ? 'live_on' : 'live_off');
  }
  function renderWho() {
    const who = $('#who');
    who.replaceChildren();
    if (!S.me) return;
    const role = t('role_' + S.me.role);
    who.append(h('span', { id: 'who-role' }, role + ' ' + S.me.id), ' · ',
      h('span', { id: 'who-level' }, t('level_' + S.me.place.level)), ' · ',
      h('span', { id: 'who-place' }, placeName(S.me.place)));
    renderEmergencyBanner();
    renderNotifyStatus();
  }
  // One line per notifier channel, so a channel that keeps failing is seen.
  function renderNotifyStatus() {
    const el = $('#notify-status');
    const channels = (S.me && S.me.notify_channels) || [];
    el.hidden = channels.length === 0;
    el.replaceChildren(...channels.map((c) => h('div', { 'data-failing': String(c.failed_total > 0 || c.retried_total > 0) },
      t('nt_line', c.channel, c.pending, c.sent_total, c.failed_total) + (c.last_error ? t('nt_error', c.last_error) : ''))));
  }
  function renderEmergencyBanner() {
    const banner = $('#emergency-banner');
    const on = (S.me && S.me.emergency) || [];
    banner.hidden = on.length === 0;
    banner.replaceChildren(...on.map((e) => h('div', {},
      t('em_on', placeName(e)) + (e.since ? t('em_since', when(e.since)) : '') + (e.reason ? t('em_reason', e.reason) : ''))));
  }
  function showSection(id) {
    for (const s of ['login', 'board', 'ticket', 'metrics', 'intake', 'workspace']) $('#' + s).hidden = s !== id;
    $('#nav').hidden = id === 'login' || id === 'workspace';
    $('#logout').hidden = id === 'login';
    $('#print').hidden = !(id === 'board' || id === 'ticket');
    $('#alerts').hidden = id === 'login' || id === 'workspace';
    // What the nav offers is what /me says the permit rule lets this caller do.
    const may = (S.me && S.me.may) || {};
    $('#nav-board').hidden = !may.board;
    $('#nav-missed').hidden = !may.board;
    $('#nav-intake').hidden = !may.intake;
    $('#nav-metrics').hidden = !may.metrics;
    $('#nav-intake').toggleAttribute('aria-current', id === 'intake');
    $('#nav-missed').toggleAttribute('aria-current', S.view === 'missed');
    $('#nav-board').toggleAttribute('aria-current', id === 'board' || id === 'ticket');
    if ((id === 'board' && S.view !== 'missed') || id === 'ticket') $('#nav-board').setAttribute('aria-current', 'page');
    else $('#nav-board').removeAttribute('aria-current');
    $('#nav-metrics').toggleAttribute('aria-current', id === 'metrics');
    if (id === 'metrics') $('#nav-metrics').setAttribute('aria-current', 'page');
  }
  async function login(token) {
    S.token = token.trim();
    try {
      S.me = await api('GET', '/api/v1/me');
    } catch (error) {
      S.token = '';
      S.me = null;
      $('#login-error').textContent = error.status === 401 ? t('bad_token') : sentence(error);
      showSection('login');
      return false;
    }
    sessionStorage.setItem('gridloop.token', S.token);
    $('#login-error').textContent = '';
    renderWho();
    follow();
    return true;
  }
  function logout() {
    S.token = '';
    S.me = null;
    // The next caller's console is built anew from their own /me.
    delete $('#board').dataset.built;
    S.view = '';
    S.filters = { status: '', scope: '', category: '', holder: '', overdue: false, q: '', offset: 0, closed: false };
    S.alerts.unseen = 0;
    S.alerts.primed = false;
    updateTitle();
    sessionStorage.removeItem('gridloop.token');
    if (S.stream) S.stream.abort();
    renderWho();
    $('#emergency-banner').hidden = true;
    showSection('login');
    $('#token').focus();
  }
  async function refreshMe() {
    try { S.me = await api('GET', '/api/v1/me'); renderWho(); } catch (_) { /* the next event retries */ }
    if (S.view === 'board') renderEmergencySwitch();
  }

  // --- the event stream -----------------------------------------------------
  // fetch rather than EventSource: the token goes in a header, not the URL.
  async function follow() {
    if (S.following) return;
    S.following = true;
    while (S.token) {
      const control = new AbortController();
      S.stream = control;
      try {
        const from = S.position > 0 ? '?from=' + (S.position + 1) : '';
        const response = await fetch('/console/stream' + from,
          { headers: { Authorization: 'Bearer ' + S.token }, signal: control.signal, cache: 'no-store' });
        if (response.status === 401) { logout(); break; }
        if (!response.ok) throw new Error('stream ' + response.status);
        setLive(true);
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            onMessage(block);
          }
        }
      } catch (_) { /* reconnect below */ }
      setLive(false);
      if (S.token) await sleep(500);
    }
    S.following = false;
  }
  function onMessage(block) {
    let kind = 'message', data = '', id = null;
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') kind = value;
      else if (field === 'data') data += (data ? '\n' : '') + value;
      else if (field === 'id') id = Number(value);
    }
    if (id != null && !Number.isNaN(id)) S.position = Math.max(S.position, id);
    if (kind === 'ticket') {
      const message = JSON.parse(data);
      const row = message.row;
      S.flash.add(row.id);
      if (row.urgency === 'urgent' && row.status === 'submitted') alertUrgent(row);
      if (S.view === 'board' || S.view === 'missed') { later('board', loadBoard, 300); later('map', loadMap, 1500); }
      if (S.view === 'ticket' && S.ticketId === row.id) later('ticket', () => loadTicket(S.ticketId), 150);
    } else if (kind === 'emergency') {
      later('me', refreshMe, 100);
    }
  }
  // Runs fn once within ms however many events ask for it meanwhile: a
  // burst costs one request, and a steady stream never starves the page.
  function later(name, fn, ms) {
    if (S.timers[name]) return;
    S.timers[name] = setTimeout(() => { S.timers[name] = null; fn(); }, ms);
  }

  // --- alerts ------------------------------------------------------------------
  // An urgent order just submitted (as the API's row says: urgency and
  // board status) beeps, shows a desktop notification and marks the tab's
  // title until the page is looked at. The browser allows sound and
  // notifications only after a click, so the button asks for both.
  async function enableAlerts() {
    const A = S.alerts;
    try { A.audio = A.audio || new (window.AudioContext || window.webkitAudioContext)(); await A.audio.resume(); } catch (_) { A.audio = null; }
    if ('Notification' in window && Notification.permission === 'default') {
      try { await Notification.requestPermission(); } catch (_) { /* refused: sound and title remain */ }
    }
    A.on = true;
    $('#alerts').textContent = t('al_on');
    $('#alerts').dataset.on = 'true';
    beep();
  }
  function beep() {
    const ctx = S.alerts.audio;
    if (!ctx) return;
    for (const [at, freq] of [[0, 880], [0.25, 660], [0.5, 880]]) {
      const osc = ctx.createOscillator(), gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.2, ctx.currentTime + at);
      gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + at + 0.2);
      osc.connect(gain).connect(ctx.destination);
      osc.start(ctx.currentTime + at);
      osc.stop(ctx.currentTime + at + 0.22);
    }
  }
  function alertUrgent(row) {
    const A = S.alerts;
    if (A.seen.has(row.id)) return;
    A.seen.add(row.id);
    if (!A.primed) return; // urgent tickets already there at login are not news
    A.unseen++;
    document.body.dataset.alerted = row.id;
    updateTitle();
    if (!A.on) return;
    beep();
    if ('Notification' in window && Notification.permission === 'granted') {
      try { new Notification(t('al_title') + ' ' + row.id, { body: t('al_body', rowItem(row), rowPlace(row)), tag: row.id }); } catch (_) { /* ignore */ }
    }
  }
  function noteUrgent(rows) {
    for (const r of rows) if (r.urgency === 'urgent' && r.status === 'submitted') alertUrgent(r);
    S.alerts.primed = true;
  }
  function updateTitle() {
    const n = S.alerts.unseen;
    document.title = (n ? '(' + n + ') ⚠ ' + t('al_title') + ' · ' : '') + 'gridloop ' + t('console');
  }
  function seen() {
    if (document.visibilityState === 'visible' && S.alerts.unseen) { S.alerts.unseen = 0; updateTitle(); }
  }

  // --- the board ---------------------------------------------------------------
  // The board, or (mode 'missed') the tickets that missed a deadline: the
  // same table with the server's overdue filter (Ticket::overdue) on.
  async function showBoard(mode = 'board') {
    if (S.view !== mode && (mode === 'missed' || S.view === 'missed')) {
      delete $('#board').dataset.built;
      Object.assign(S.filters, { offset: 0, overdue: mode === 'missed', closed: false });
    }
    S.view = mode;
    showSection('board');
    const board = $('#board');
    if (!board.dataset.built || board.dataset.lang !== S.lang) buildBoard(board);
    renderEmergencySwitch();
    await Promise.all([loadBoard(), loadMap()]);
  }
  function buildBoard(board) {
    board.dataset.built = '1';
    board.dataset.lang = S.lang;
    const f = S.filters;
    const statuses = ['', 'submitted', 'triaged', 'offered', 'accepted', 'in_progress', 'escalated', 'awaiting_feedback', 'resolved', 'reopened', 'closed', 'cancelled', 'duplicate'];
    const categories = ['', 'information_collection', 'grid_patrol', 'community_service', 'street_community_coordination'];
    const select = (id, values, prefix, current) => h('select', { id, onchange: onFilter },
      values.map((v) => h('option', { value: v, selected: v === current }, t(prefix + v))));
    const missed = S.view === 'missed';
    const form = h('form', { class: 'filters panel', id: 'filters', onsubmit: (e) => { e.preventDefault(); onFilter(); } },
      h('div', { class: 'search' }, h('label', { for: 'f-q' }, t('f_q')),
        h('input', { id: 'f-q', type: 'search', value: f.q, maxlength: 100, size: 28, autocomplete: 'off' }),
        h('button', { type: 'submit', class: 'primary', id: 'f-search' }, t('f_search'))),
      h('div', {}, h('label', { for: 'f-status' }, t('f_status')), select('f-status', statuses, 'st_', f.status)),
      h('div', { id: 'f-places' }, h('label', {}, t('f_place'))),
      h('div', {}, h('label', { for: 'f-category' }, t('f_category')), select('f-category', categories, 'cat_', f.category)),
      h('div', {}, h('label', { for: 'f-holder' }, t('f_holder')),
        h('input', { id: 'f-holder', value: f.holder, maxlength: 100, size: 18, onchange: onFilter })),
      missed ? h('label', { class: 'check' }, h('input', { type: 'checkbox', id: 'f-closed', checked: f.closed, onchange: onFilter }), t('missed_closed'))
        : h('label', { class: 'check' }, h('input', { type: 'checkbox', id: 'f-overdue', checked: f.overdue, onchange: onFilter }), t('f_overdue')),
      h('button', { type: 'button', class: 'secondary', onclick: resetFilters }, t('f_reset')));
    const columns = ['c_id', 'c_item', 'c_place', 'c_resident', 'c_status', 'c_holder', 'c_submitted', 'c_deadline']
      .filter((c) => c !== 'c_resident' || (S.me.may && S.me.may.residents));
    board.replaceChildren();
    append(board, [
      missed ? h('h1', { id: 'missed-title' }, t('missed_title')) : null,
      h('div', { id: 'emergency-switch' }),
      form,
      h('details', { class: 'panel map-panel', id: 'map-panel', open: true },
        h('summary', {}, t('map_title')), h('p', { class: 'muted', id: 'map-chosen' }), h('div', { id: 'board-map', class: 'map' })),
      h('p', { id: 'board-count', class: 'muted', 'aria-live': 'polite' }),
      h('div', { class: 'scroll' }, h('table', { class: 'board', id: 'board-table' },
        h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, t(c))))),
        h('tbody', { id: 'board-rows' }))),
      h('nav', { class: 'pager', id: 'pager', 'aria-label': 'pages' },
        h('button', { type: 'button', class: 'secondary', id: 'page-prev', onclick: () => page(-1) }, t('page_prev')),
        h('span', { id: 'page-of', class: 'muted' }),
        h('button', { type: 'button', class: 'secondary', id: 'page-next', onclick: () => page(1) }, t('page_next')))]);
    buildPlaces();
  }
  function page(step) {
    S.filters.offset = Math.max(0, S.filters.offset + step * (S.pageSize || 500));
    loadBoard();
  }
  // The map is the server's SVG (grids drawn from their boundaries, shaded
  // by open and overdue tickets); it is parsed as XML, never as HTML, and a
  // click on a grid filters the board to it.
  async function fetchMap(path) {
    const response = await fetch(path, { headers: { Authorization: 'Bearer ' + S.token }, cache: 'no-store' });
    if (!response.ok) throw new Error('map ' + response.status);
    const doc = new DOMParser().parseFromString(await response.text(), 'image/svg+xml');
    const root = doc.documentElement;
    if (root.nodeName !== 'svg') throw new Error('not an SVG');
    return document.importNode(root, true);
  }
  async function loadMap() {
    const box = $('#board-map');
    if (!box) return;
    let map;
    try { map = await fetchMap('/api/v1/board/map'); } catch (_) { box.replaceChildren(); return; }
    for (const cell of map.querySelectorAll('path[data-grid]')) {
      const choose = () => { S.filters.scope = cell.dataset.grid; S.filters.offset = 0; buildPlaces(); loadBoard(); markMap(); };
      cell.addEventListener('click', choose);
      cell.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); choose(); } });
    }
    box.replaceChildren(map);
    markMap();
    document.body.dataset.map = 'ready';
  }
  function markMap() {
    const chosen = S.filters.scope;
    let name = '';
    for (const cell of document.querySelectorAll('#board-map path[data-grid]')) {
      const on = !!chosen && (cell.dataset.grid === chosen || cell.dataset.grid.startsWith(chosen + '-'));
      cell.classList.toggle('chosen', on);
      if (cell.dataset.grid === chosen) name = S.lang === 'en' ? cell.dataset.nameEn || cell.dataset.name : cell.dataset.name;
    }
    const line = $('#map-chosen');
    if (!line) return;
    line.replaceChildren();
    if (chosen) {
      append(line, [t('map_chosen', (name || chosen) + ' ' + chosen), ' ',
        h('button', { type: 'button', class: 'secondary', id: 'map-clear', onclick: () => { S.filters.scope = ''; buildPlaces(); loadBoard(); markMap(); } }, t('map_clear'))]);
    }
  }
  // Cascading selects down the grid tree, from the dispatcher's own place.
  async function buildPlaces() {
    const holder = $('#f-places');
    holder.replaceChildren(h('label', { for: 'f-place-0' }, t('f_place')));
    const chain = [];
    let parent = S.me.place.code;
    const chosen = S.filters.scope;
    for (let depth = 0; depth < 3; depth++) {
      let answer;
      try { answer = await api('GET', '/api/v1/grids?parent=' + encodeURIComponent(parent)); } catch (_) { break; }
      if (!answer.children.length) break;
      const id = 'f-place-' + depth;
      const next = answer.children.find((c) => chosen && (chosen === c.code || chosen.startsWith(c.code + '-')));
      const sel = h('select', { id, 'data-parent': parent, 'aria-label': t('f_place'), onchange: () => { S.filters.scope = sel.value || sel.dataset.parent; if (S.filters.scope === S.me.place.code) S.filters.scope = ''; buildPlaces(); loadBoard(); } },
        h('option', { value: '' }, t('f_all_places')),
        answer.children.map((c) => h('option', { value: c.code, selected: next && next.code === c.code }, placeName(c))));
      chain.push(sel);
      if (!next) break;
      parent = next.code;
    }
    holder.append(...chain);
  }
  function onFilter() {
    S.filters.status = $('#f-status').value;
    S.filters.category = $('#f-category').value;
    S.filters.holder = $('#f-holder').value.trim();
    if ($('#f-overdue')) S.filters.overdue = $('#f-overdue').checked;
    if ($('#f-closed')) S.filters.closed = $('#f-closed').checked;
    S.filters.q = $('#f-q').value.trim();
    S.filters.offset = 0;
    loadBoard();
  }
  function resetFilters() {
    S.filters = { status: '', scope: '', category: '', holder: '', overdue: false, q: '', offset: 0, closed: false };
    delete $('#board').dataset.built;
    showBoard(S.view);
  }
  async function loadBoard() {
    const f = S.filters;
    const query = new URLSearchParams();
    for (const k of ['status', 'scope', 'category', 'holder', 'q']) if (f[k]) query.set(k, f[k]);
    if (f.overdue || S.view === 'missed') query.set('overdue', 'true');
    if (S.view === 'missed' && f.closed) query.set('closed', 'true');
    if (f.offset) query.set('offset', String(f.offset));
    document.body.dataset.board = 'loading';
    let answer;
    try {
      answer = await api('GET', '/api/v1/board?' + query);
    } catch (error) {
      $('#board-count').textContent = sentence(error);
      return;
    }
    S.offset = Date.parse(answer.now) - Date.now();
    S.position = Math.max(S.position, answer.position);
    // The overdue count and each row's flag are the server's (the engine's
    // rule): a ticket that missed a deadline stays flagged after escalation.
    const counted = answer.total ? t('total', answer.total, answer.rows.length) : t('none');
    S.pageSize = Math.max(S.pageSize || 0, answer.rows.length);
    const first = answer.total ? answer.offset + 1 : 0;
    $('#page-of').textContent = t('page_of', first, answer.offset + answer.rows.length, answer.total);
    $('#page-prev').disabled = answer.offset <= 0;
    $('#page-next').disabled = answer.offset + answer.rows.length >= answer.total;
    $('#pager').hidden = answer.total <= answer.rows.length && !answer.offset;
    const withResident = S.me.may && S.me.may.residents;
    $('#board-count').textContent = counted + (answer.overdue ? ' · ' + t('overdue_count', answer.overdue) : '')
      + ' · ' + t('tz_note', zone());
    const rows = answer.rows.map((r) => {
      const tr = h('tr', { 'data-id': r.id, 'data-grid': r.grid, 'data-status': r.status, class: S.flash.has(r.id) ? 'flash' : null },
        h('td', { 'data-label': t('c_id') }, h('a', { href: '#/ticket/' + r.id }, r.id),
          r.urgency === 'urgent' ? [' ', h('span', { class: 'tag urgent' }, t('urgent'))] : null,
          r.overdue ? [' ', h('span', { class: 'tag overdue' }, t('overdue'))] : null),
        h('td', { 'data-label': t('c_item') }, rowItem(r)),
        h('td', { 'data-label': t('c_place') }, rowPlace(r)),
        withResident ? h('td', { 'data-label': t('c_resident'), class: 'resident' }, residentLine(r.resident)) : null,
        h('td', { 'data-label': t('c_status'), class: 'status' }, t('st_' + r.status),
          r.tier && r.tier !== 'grid' ? [' ', h('span', { class: 'tag' }, t('tier_' + r.tier))] : null),
        h('td', { 'data-label': t('c_holder') }, r.holder ? holderName(r.holder, r.holder_name) : ''),
        h('td', { 'data-label': t('c_submitted') }, when(r.submitted_at)),
        h('td', { 'data-label': t('c_deadline') }, due(r.next_deadline)));
      return tr;
    });
    S.flash.clear();
    noteUrgent(answer.rows);
    $('#board-rows').replaceChildren(...rows);
    document.body.dataset.board = 'ready';
    tick();
  }
  // 平急转换: district and street dispatchers switch their own place, with
  // a reason and a second, explicit confirmation.
  function renderEmergencySwitch() {
    const box = $('#emergency-switch');
    if (!box || !S.me) return;
    box.replaceChildren();
    if (!S.me.may_switch_emergency) return;
    const place = S.me.place;
    const on = (S.me.emergency || []).some((e) => e.code === place.code);
    const reason = h('input', { id: 'em-reason', maxlength: 200, size: 30 });
    const result = h('span', { class: 'result', id: 'em-result', role: 'status' });
    const confirm = h('div', { id: 'em-confirm', hidden: true },
      h('p', {}, t('em_sure', placeName(place))),
      h('label', { for: 'em-reason' }, t('em_reason_label')), reason, ' ',
      h('button', { type: 'button', class: 'danger', id: 'em-confirm-button', onclick: async () => {
        if (!reason.value.trim()) { result.textContent = t('need_reason'); reason.focus(); return; }
        try {
          await post('/api/v1/emergency/' + place.code + '/' + (on ? 'lift' : 'declare'), { reason: reason.value.trim() });
          await refreshMe();
        } catch (error) { result.textContent = t('refused', sentence(error)); }
      } }, t(on ? 'em_confirm_lift' : 'em_confirm_declare')), ' ',
      h('button', { type: 'button', class: 'secondary', onclick: () => { confirm.hidden = true; start.focus(); } }, t('em_cancel')));
    const start = h('button', { type: 'button', class: on ? 'secondary' : 'danger', id: 'em-toggle',
      onclick: () => { confirm.hidden = false; reason.focus(); } }, t(on ? 'em_lift' : 'em_declare'));
    box.append(h('div', { class: 'panel' }, h('strong', {}, t('em_title') + ' '),
      h('span', {}, t(on ? 'em_state_on' : 'em_state_off', placeName(place))), ' ', start, confirm, result));
  }

  // --- a ticket ------------------------------------------------------------------
  async function showTicket(id) {
    S.view = 'ticket';
    S.ticketId = id;
    S.ticketStatus = '';
    showSection('ticket');
    const page = $('#ticket');
    page.replaceChildren(
      h('p', {}, h('a', { href: '#/board' }, t('back'))),
      h('h1', { id: 't-title' }, id),
      h('div', { class: 'grid2' },
        h('div', {},
          h('section', { class: 'panel', id: 't-facts' }, t('loading')),
          h('section', { class: 'panel' }, h('h2', {}, t('t_timeline')), h('ol', { class: 'timeline', id: 't-timeline' })),
          S.me.may && S.me.may.history ? auditPanel(id) : null),
        h('div', {},
          h('section', { class: 'panel', id: 't-cands' }),
          h('section', { class: 'panel' }, h('h2', {}, t('t_actions')), h('p', { class: 'result', id: 't-result', role: 'status', 'aria-live': 'polite' }),
            h('div', { class: 'actions', id: 't-actions' })))));
    await loadTicket(id);
    $('#main').focus();
  }
  async function loadTicket(id) {
    let ticket, history, candidates = null;
    try {
      [ticket, history] = await Promise.all([api('GET', '/api/v1/tickets/' + id), api('GET', '/api/v1/tickets/' + id + '/history')]);
      candidates = await api('GET', '/api/v1/tickets/' + id + '/candidates').catch(() => null);
    } catch (error) {
      $('#t-facts').textContent = sentence(error);
      return;
    }
    if (S.view !== 'ticket' || S.ticketId !== id) return;
    S.names = (candidates && candidates.names && candidates.names.holders) || {};
    const resident = candidates && candidates.names ? candidates.names.resident : null;
    const submitted = history.events.find((e) => e.schema.startsWith('ticket.submitted'));
    const itemName = candidates ? placeName(candidates.item) : ticket.item;
    $('#t-title').textContent = id + ' · ' + itemName;
    // The board status and the pending deadlines come from the API, which
    // asks the engine: the console shows them and derives neither.
    const status = ticket.board_status;
    const deadlines = ticket.pending_deadlines.map((d) => h('div', {}, due(d)));
    $('#t-facts').replaceChildren(h('h2', {}, t('t_facts')), h('dl', { class: 'facts' },
      h('dt', {}, t('c_status')), h('dd', { id: 't-status', 'data-status': status }, t('st_' + status)),
      h('dt', {}, t('f_item')), h('dd', {}, ticket.item + ' ' + itemName),
      h('dt', {}, t('f_grid')), h('dd', {}, candidates ? placeName(candidates.place) + ' ' : '', ticket.grid),
      h('dt', {}, t('f_tier')), h('dd', {}, t('tier_' + (ticket.tier || 'grid'))),
      h('dt', {}, t('f_holder2')), h('dd', { id: 't-holder' }, holderName(ticket.holder)),
      resident ? [h('dt', {}, t('c_resident')), h('dd', { id: 't-resident' }, residentLine(resident))] : null,
      h('dt', {}, t('f_urgency')), h('dd', {}, ticket.urgency === 'urgent' ? h('span', { class: 'tag urgent' }, t('urgent')) : t('normal')),
      h('dt', {}, t('f_deadlines')), h('dd', { id: 't-deadlines', 'data-overdue': String(!!ticket.overdue) }, deadlines.length ? deadlines : '—',
        ticket.overdue ? [' ', h('span', { class: 'tag overdue', id: 't-overdue' }, t('overdue'))] : null),
      h('dt', {}, t('t_desc')), h('dd', {}, submitted ? submitted.payload.description : '')));
    $('#t-timeline').replaceChildren(...history.events.map((e) => h('li', { 'data-schema': e.schema },
      h('time', { datetime: e.occurred_at }, when(e.occurred_at) + ' · ' + t('role_' + e.actor.role) + ' ' + e.actor.id),
      h('div', {}, describe(e, candidates)))));
    renderCandidates(ticket, candidates);
    // The forms are rebuilt only when the ticket moves to another status, so
    // a reason being typed survives events that change nothing here.
    const shape = status + '/' + ticket.actions.join(',') + '/' + (candidates ? candidates.volunteers.map((v) => v.id).join(',') : '');
    if (shape !== S.ticketStatus) {
      S.ticketStatus = shape;
      renderActions(ticket, candidates);
    }
    tick();
  }
  // The auditor's panel: the ticket as of an instant, its deadlines judged
  // as the rates judge them, and its hash chain checked, all by the server.
  function auditPanel(id) {
    const at = h('input', { id: 'au-as-of', type: 'datetime-local', step: 60 });
    const out = h('div', { id: 'au-out' });
    const go = async () => {
      const query = at.value ? '?as_of=' + encodeURIComponent(new Date(at.value).toISOString()) : '';
      out.textContent = t('loading');
      try { renderAudit(out, await api('GET', '/api/v1/tickets/' + id + '/audit' + query)); } catch (error) { out.textContent = sentence(error); }
    };
    const panel = h('section', { class: 'panel', id: 't-audit' }, h('h2', {}, t('t_audit')),
      h('div', { class: 'filters' }, h('div', {}, h('label', { for: 'au-as-of' }, t('au_as_of')), at),
        h('button', { type: 'button', class: 'secondary', id: 'au-go', onclick: go }, t('au_go'))), out);
    setTimeout(go, 0);
    return panel;
  }
  function renderAudit(out, answer) {
    const a = answer.audit, chain = answer.chain;
    const checks = a.events.flatMap((e) => e.deadlines.map((d) => h('li', { 'data-met': String(d.met) },
      when(e.time) + ' · ' + d.deadline + (d.department ? ' ' + d.department : '') + ' · ' + when(d.due) + ' · ' + d.outcome)));
    out.replaceChildren();
    append(out, [
      h('p', { id: 'au-chain', class: chain.ok ? 'ok' : 'error', 'data-ok': String(chain.ok) },
        chain.ok ? t('au_chain_ok', chain.events) : t('au_chain_bad', chain.break.stream + ' v' + chain.break.version + ': ' + chain.break.reason)),
      h('p', { id: 'au-state' }, t('au_state', t('st_' + a.state.status)) + (a.later_events ? ' · ' + t('au_later', a.later_events) : '')),
      checks.length ? [h('h3', {}, t('au_deadlines')), h('ul', { id: 'au-checks' }, checks)] : null]);
  }
  function describe(event, candidates) {
    const p = event.payload || {};
    const name = event.schema.split('/')[0].replace(/^ticket\./, '');
    const people = (list) => (list || []).map(holderName).join(S.lang === 'zh' ? '、' : ', ');
    const dept = (code) => {
      const d = candidates && candidates.departments.find((x) => x.code === code);
      return d ? placeName(d) : code;
    };
    switch (name) {
      case 'submitted': return t('ev_submitted', p.resident, p.item, when(p.accept_by), when(p.resolve_by));
      case 'triaged': return t('ev_triaged', t('mode_' + p.mode));
      case 'self_handled': return t('ev_self_handled', p.worker);
      case 'offered': return t('ev_offered', p.round, people(p.candidates), when(p.expires_at));
      case 'offer_expired': return t('ev_offer_expired', p.round, t('xr_' + p.reason));
      case 'accepted': return t('ev_accepted', holderName(p.by));
      case 'declined': return t('ev_declined', holderName(p.by), p.reason);
      case 'started': return t('ev_started', holderName(p.by));
      case 'note_added': return t('ev_note_added', p.text);
      case 'escalated': return t('ev_escalated', t('tier_' + p.from), t('tier_' + p.to), t('er_' + p.reason), p.note || '');
      case 'reassigned': return t('ev_reassigned', holderName(p.to), p.reason);
      case 'resolved': return t('ev_resolved', holderName(p.by), p.minutes_spent, p.result);
      case 'feedback_given': return t('ev_feedback_given', t('rt_' + p.rating), p.comment || '');
      case 'reopened': return t('ev_reopened', p.reason);
      case 'closed': return t('ev_closed', t('cr_' + p.reason));
      case 'cancelled': return t('ev_cancelled', p.reason);
      case 'marked_duplicate': return t('ev_marked_duplicate', p.of);
      case 'summoned': return t('ev_summoned', (p.departments || []).map(dept).join(', '), when(p.report_by));
      case 'summons_answered': return t('ev_summons_answered', dept(p.department), p.report);
      default: return event.schema + ' ' + JSON.stringify(p);
    }
  }
  function renderCandidates(ticket, c) {
    const box = $('#t-cands');
    box.replaceChildren(h('h2', {}, t('t_cands')));
    if (!c) return;
    // The server's suggestion follows the ticket's current round and tier,
    // and gives none (route null) once it is resolved or final.
    if (!c.route) { box.append(h('p', { id: 't-route', 'data-route': 'none' }, t('route_none'))); return; }
    const above = c.tier && c.tier !== 'grid';
    const line = {
      offer: t('route_offer', placeName(c.ring), c.round + 1),
      team: above ? t('route_tier_team', t('tier_' + c.tier), c.team || '') : t('route_team', c.team || ''),
      department: above ? t('route_tier_department', t('tier_' + c.tier), placeName(c.department)) : t('route_department', placeName(c.department)),
      self_handle: t('route_self_handle'),
    }[c.route];
    box.append(h('p', { id: 't-route' }, line));
    if (c.wider && c.volunteers.length) box.append(h('p', { class: 'muted' }, t('route_wider', placeName(c.ring))));
    if (c.volunteers.length) {
      box.append(h('ul', { id: 't-volunteers' }, c.volunteers.map((v) => h('li', { 'data-id': v.id },
        t('v_line', v.id, v.team, S.lang === 'en' ? v.home_en || v.home : v.home || v.home_en, v.open_orders, v.open_orders_max, v.recent_orders)))));
    }
  }
  // Text like "V-7, TM-3, department:civil_affairs" as assignees.
  function parseAssignees(text) {
    return text.split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean).map((s) => {
      const colon = s.indexOf(':');
      if (colon > 0) return { kind: s.slice(0, colon), id: s.slice(colon + 1) };
      if (/^TM-/i.test(s)) return { kind: 'team', id: s.toUpperCase() };
      if (/^V-/i.test(s)) return { kind: 'volunteer', id: s.toUpperCase() };
      if (/^gw-/.test(s)) return { kind: 'grid_worker', id: s };
      return { kind: 'department', id: s };
    });
  }
  // Which forms to show is the API's answer (ticket.actions, decided by the
  // engine for this caller): the console keeps no rule of its own about it.
  function renderActions(ticket, c) {
    const box = $('#t-actions');
    box.replaceChildren();
    const id = ticket.id;
    const can = new Set(ticket.actions);
    const result = $('#t-result');
    // One action: posts, then says what happened in one sentence.
    async function act(action, body, label) {
      result.className = 'result';
      result.textContent = '…';
      try {
        await post('/api/v1/tickets/' + id + '/' + action, body);
        result.className = 'result ok';
        result.textContent = t('done', label);
        await loadTicket(id);
      } catch (error) {
        result.className = 'result error';
        result.textContent = t('refused', sentence(error));
      }
    }
    const fieldset = (name, ...kids) => h('fieldset', { id: 'act-' + name }, h('legend', {}, t('a_' + name)), ...kids);
    const labelled = (id, label, input) => h('div', {}, h('label', { for: id }, label), input);

    if (can.has('offer') && c && c.item.dispatchable_to_grid) {
      const boxes = c.volunteers.map((v) => h('label', { class: 'check' },
        h('input', { type: 'checkbox', name: 'cand', value: v.id, 'data-id': v.id }), v.id));
      const others = h('input', { id: 'offer-others', size: 20, maxlength: 400 });
      const minutes = h('input', { id: 'offer-minutes', type: 'number', min: 1, max: 10080, value: c.offer_minutes || 30, size: 5 });
      box.append(fieldset('offer', h('div', { class: 'check-list' }, boxes),
        labelled('offer-others', t('other_cands'), others), labelled('offer-minutes', t('minutes'), minutes),
        h('button', { type: 'button', class: 'action', id: 'offer-button', onclick: () => {
          const picked = [...box.querySelectorAll('input[name=cand]:checked')].map((i) => ({ kind: 'volunteer', id: i.value }));
          const candidates = picked.concat(parseAssignees(others.value));
          if (!candidates.length) { result.className = 'result error'; result.textContent = t('pick_one'); return; }
          act('offer', { candidates, expires_in_minutes: Number(minutes.value) || 30 }, t('a_offer'));
        } }, t('a_offer'))));
    }
    if (can.has('assign')) {
      const options = [];
      if (c) {
        for (const v of c.volunteers) options.push({ kind: 'volunteer', id: v.id });
        if (c.team) options.push({ kind: 'team', id: c.team });
        options.push({ kind: 'department', id: c.department.code });
      }
      const target = h('select', { id: 'assign-to' },
        options.map((o, i) => h('option', { value: i }, holderName(o))), h('option', { value: 'other' }, t('other')));
      const other = h('input', { id: 'assign-other', size: 18, maxlength: 140 });
      const reason = h('input', { id: 'assign-reason', size: 24, maxlength: 2000 });
      box.append(fieldset('assign', labelled('assign-to', t('assign_to'), target), labelled('assign-other', t('other_assignee'), other),
        labelled('assign-reason', t('reason_req'), reason),
        h('button', { type: 'button', class: 'action', id: 'assign-button', onclick: () => {
          const to = target.value === 'other' ? parseAssignees(other.value)[0] : options[Number(target.value)];
          if (!to) { result.className = 'result error'; result.textContent = t('pick_one'); return; }
          if (!reason.value.trim()) { result.className = 'result error'; result.textContent = t('need_reason'); reason.focus(); return; }
          act('assign', { to, reason: reason.value.trim() }, t('a_assign'));
        } }, t('a_assign'))));
    }
    if (can.has('escalate')) {
      const why = h('select', { id: 'esc-reason' }, ['difficulty', 'whistle', 'emergency', 'timeout', 'complaint'].map((r) => h('option', { value: r }, t('er_' + r))));
      const note = h('input', { id: 'esc-note', size: 24, maxlength: 2000 });
      box.append(fieldset('escalate', labelled('esc-reason', t('esc_reason'), why), labelled('esc-note', t('note_opt'), note),
        h('button', { type: 'button', class: 'action', onclick: () => act('escalate', { reason: why.value, note: note.value.trim() }, t('a_escalate')) }, t('a_escalate'))));
    }
    if (can.has('summon') && c) {
      const boxes = c.departments.map((d) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'dept', value: d.code }), placeName(d)));
      box.append(fieldset('summon', h('div', {}, h('div', { class: 'muted' }, t('departments')), boxes),
        h('button', { type: 'button', class: 'action', onclick: () => {
          const departments = [...box.querySelectorAll('input[name=dept]:checked')].map((i) => i.value);
          if (!departments.length) { result.className = 'result error'; result.textContent = t('pick_one'); return; }
          act('summon', { departments }, t('a_summon'));
        } }, t('a_summon'))));
    }
    if (can.has('mark-duplicate')) {
      const of = h('input', { id: 'dup-of', size: 10, maxlength: 20, placeholder: 'T-' });
      box.append(fieldset('duplicate', labelled('dup-of', t('dup_of'), of),
        h('button', { type: 'button', class: 'action', onclick: () => act('mark-duplicate', { of: of.value.trim().toUpperCase() }, t('a_duplicate')) }, t('a_duplicate'))));
    }
    if (can.has('cancel')) {
      const cancel = h('input', { id: 'cancel-reason', size: 24, maxlength: 2000 });
      box.append(fieldset('cancel', labelled('cancel-reason', t('reason_req'), cancel),
        h('button', { type: 'button', class: 'danger', onclick: () => {
          if (!cancel.value.trim()) { result.className = 'result error'; result.textContent = t('need_reason'); cancel.focus(); return; }
          act('cancel', { reason: cancel.value.trim() }, t('a_cancel'));
        } }, t('a_cancel'))));
    }
    if (can.has('close')) {
      box.append(fieldset('close', h('button', { type: 'button', class: 'action', id: 'close-button', onclick: () => act('close', undefined, t('a_close')) }, t('a_close'))));
    }
    // The department's return and extension, and the urge (docs/department.md):
    // each form shows only when the engine lists its action for this caller.
    const textAction = (name, action, label, danger) => {
      const input = h('input', { id: name + '-text', size: 24, maxlength: 2000 });
      box.append(fieldset(name, labelled(name + '-text', t('reason'), input),
        h('button', { type: 'button', class: danger ? 'danger' : 'action', id: name + '-button',
          onclick: () => act(action, action === 'urge' || action === 'insist' ? { note: input.value.trim() } : { reason: input.value.trim() }, label) }, label)));
    };
    if (ticket.returned_by) box.append(h('p', { class: 'muted', id: 'returned-by' }, t('returned_by', ticket.returned_by.id)));
    if (can.has('insist')) textAction('insist', 'insist', t('a_insist'));
    if (ticket.extension) box.append(h('p', { class: 'muted', id: 'extension-asked' }, t('ext_asked', ticket.extension.until, ticket.extension.reason)));
    if (can.has('grant-extension')) {
      box.append(fieldset('grant_ext', h('button', { type: 'button', class: 'action', id: 'grant-extension-button',
        onclick: () => act('grant-extension', undefined, t('a_grant_ext')) }, t('a_grant_ext'))));
    }
    if (can.has('refuse-extension')) textAction('refuse_ext', 'refuse-extension', t('a_refuse_ext'), true);
    if (ticket.urges) box.append(h('p', { class: 'muted', id: 'urges' }, t('urges', ticket.urges)));
    if (can.has('urge')) textAction('urge', 'urge', t('a_urge'));
    if (can.has('note')) {
      const text = h('input', { id: 'note-text', size: 30, maxlength: 2000 });
      box.append(fieldset('note', labelled('note-text', t('reason'), text),
        h('button', { type: 'button', class: 'secondary', onclick: () => act('note', { text: text.value.trim() }, t('a_note')) }, t('a_note'))));
    }
  }

  // --- intake: a phone call or a walk-in ----------------------------------------
  async function showIntake() {
    S.view = 'intake';
    showSection('intake');
    const page = $('#intake');
    if (!S.catalog) {
      try { S.catalog = (await api('GET', '/api/v1/catalog')).items; } catch (_) { S.catalog = []; }
    }
    const field = (id, label, input) => h('div', { class: 'field' }, h('label', { for: id }, label), input);
    const channel = h('div', { class: 'channels', role: 'radiogroup', 'aria-label': t('in_channel') },
      ['phone', 'walk_in'].map((c, i) => h('label', { class: 'check' },
        h('input', { type: 'radio', name: 'in-channel', id: 'in-ch-' + c, value: c, checked: i === 0 }), t('ch_' + c))));
    const items = h('select', { id: 'in-item', required: true },
      S.catalog.map((i) => h('option', { value: i.code }, i.code + ' ' + placeName(i))));
    const result = h('p', { class: 'result', id: 'in-result', role: 'status', 'aria-live': 'polite' });
    const form = h('form', { class: 'panel intake-form', id: 'intake-form', onsubmit: submitIntake },
      h('fieldset', {}, h('legend', {}, t('in_channel')), channel),
      h('div', { class: 'intake-grid' },
        field('in-name', t('in_name'), h('input', { id: 'in-name', required: true, maxlength: 200, autocomplete: 'off' })),
        field('in-phone', t('in_phone'), h('input', { id: 'in-phone', type: 'tel', required: true, maxlength: 40, autocomplete: 'off' })),
        field('in-address', t('in_address'), h('input', { id: 'in-address', maxlength: 200, size: 40, autocomplete: 'off' })),
        field('in-item', t('in_item'), items),
        field('in-grid', t('in_grid'), h('input', { id: 'in-grid', maxlength: 40, size: 22, placeholder: '440802-001-001-001' }))),
      field('in-desc', t('in_desc'), h('textarea', { id: 'in-desc', required: true, maxlength: 2000, rows: 4 })),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', id: 'in-urgent' }), t('in_urgent')),
      h('p', { class: 'muted' }, t('in_note')),
      h('button', { type: 'submit', class: 'primary', id: 'in-submit' }, t('in_submit')),
      result);
    page.replaceChildren(h('h1', {}, t('in_title')),
      h('div', { class: 'grid2' }, form, h('div', { class: 'panel' }, h('h2', {}, t('in_grid')), h('div', { id: 'intake-map', class: 'map' }))));
    document.body.dataset.intake = 'ready';
    try {
      const map = await fetchMap('/api/v1/board/map');
      for (const cell of map.querySelectorAll('path[data-grid]')) {
        cell.addEventListener('click', () => {
          $('#in-grid').value = cell.dataset.grid;
          for (const c of map.querySelectorAll('path.chosen')) c.classList.remove('chosen');
          cell.classList.add('chosen');
        });
      }
      $('#intake-map').replaceChildren(map);
    } catch (_) { /* the grid can be typed, or found from the address */ }
  }
  async function submitIntake(e) {
    e.preventDefault();
    const result = $('#in-result');
    const body = {
      channel: document.querySelector('input[name=in-channel]:checked').value,
      name: $('#in-name').value.trim(), phone: $('#in-phone').value.trim(), address: $('#in-address').value.trim(),
      item: $('#in-item').value, description: $('#in-desc').value.trim(),
      urgency: $('#in-urgent').checked ? 'urgent' : 'normal',
    };
    const grid = $('#in-grid').value.trim();
    if (grid) body.grid = grid;
    result.className = 'result';
    result.textContent = '…';
    $('#in-submit').disabled = true;
    try {
      const logged = await post('/api/v1/intake', body);
      result.className = 'result ok';
      result.replaceChildren(t('in_done', logged.id, t(logged.returning ? 'in_returning' : 'in_new')), ' ',
        h('a', { href: '#/ticket/' + logged.id, id: 'in-ticket', 'data-id': logged.id }, t('in_open')));
      for (const id of ['in-name', 'in-phone', 'in-address', 'in-desc', 'in-grid']) $('#' + id).value = '';
      $('#in-urgent').checked = false;
    } catch (error) {
      result.className = 'result error';
      result.textContent = t('refused', sentence(error));
    } finally {
      $('#in-submit').disabled = false;
    }
  }

  // --- metrics ---------------------------------------------------------------------
  const RATES = ['completion', 'on_time', 'satisfaction', 'in_grid'];
  const ALL_RATES = ['acceptance', 'completion', 'on_time', 'satisfaction', 'in_grid', 'closed_loop'];
  const COLOURS = ['#0b5cad', '#c2410c', '#15803d', '#7e22ce', '#b91c1c', '#0e7490', '#a16207', '#be185d', '#4d7c0f', '#334155'];
  S.metricsQuery = { by: '', period: '', from: '', to: '' };
  function pct(rate) {
    if (!rate || !rate.denominator) return null;
    return (rate.numerator * 100) / rate.denominator;
  }
  function pctText(rate) {
    const p = pct(rate);
    return p == null ? t('no_data') : p.toFixed(1) + '%';
  }
  async function showMetrics() {
    S.view = 'metrics';
    showSection('metrics');
    const page = $('#metrics');
    const q = S.metricsQuery;
    const level = S.me.place.level;
    const levels = { district: ['street', 'community', 'grid'], street: ['community', 'grid'], community: ['grid'] }[level] || ['grid'];
    const by = h('select', { id: 'm-by' }, levels.map((l) => h('option', { value: l, selected: q.by === l }, t('by_' + l))));
    const period = h('select', { id: 'm-period' }, ['', 'day', 'week', 'month'].map((p) => h('option', { value: p, selected: q.period === p }, t('p_' + (p || 'auto')))));
    const from = h('input', { id: 'm-from', type: 'date', value: q.from });
    const to = h('input', { id: 'm-to', type: 'date', value: q.to });
    const form = h('form', { class: 'filters panel', onsubmit: (e) => { e.preventDefault(); Object.assign(q, { by: by.value, period: period.value, from: from.value, to: to.value }); loadMetrics(); } },
      h('div', {}, h('label', { for: 'm-by' }, t('m_by')), by), h('div', {}, h('label', { for: 'm-period' }, t('m_period')), period),
      h('div', {}, h('label', { for: 'm-from' }, t('m_from')), from), h('div', {}, h('label', { for: 'm-to' }, t('m_to')), to),
      h('button', { type: 'submit', class: 'primary' }, t('m_go')),
      h('button', { type: 'button', class: 'secondary', id: 'm-csv', onclick: exportCsv }, t('m_csv')));
    page.replaceChildren(h('h1', {}, t('m_title', placeName(S.me.place))), form,
      h('p', { id: 'm-range', class: 'muted' }), h('div', { class: 'cards', id: 'm-cards' }),
      h('div', { class: 'charts', id: 'm-charts' }),
      h('section', { class: 'panel' }, h('h2', {}, t('map_title').split('（')[0].split(' (')[0]),
        h('div', {}, h('label', { for: 'm-map-rate' }, t('map_rate')),
          h('select', { id: 'm-map-rate', onchange: loadMetricsMap }, ALL_RATES.map((r) => h('option', { value: r, selected: r === (q.mapRate || 'completion') }, t('r_' + r))))),
        h('div', { id: 'm-map', class: 'map' })),
      h('h2', {}, t('m_places')), h('div', { class: 'scroll', id: 'm-table' }),
      h('h2', {}, t('m_worst')), h('div', { class: 'scroll', id: 'm-worst' }));
    if (!q.by) q.by = levels[0];
    await loadMetrics();
  }
  function dayAfter(day) {
    const [y, m, d] = day.split('-').map(Number);
    return new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
  }
  async function loadMetrics() {
    const q = S.metricsQuery;
    const query = new URLSearchParams();
    for (const k of ['by', 'period', 'from']) if (q[k]) query.set(k, q[k]);
    // The end date is inclusive on the page; the API's `to` is exclusive.
    const to = q.to ? dayAfter(q.to) : '';
    if (to) query.set('to', to);
    document.body.dataset.metrics = 'loading';
    let series, grids = null;
    try {
      series = await api('GET', '/api/v1/metrics/series?' + query);
      if (S.me.place.level !== 'grid') {
        const gq = new URLSearchParams({ by: 'grid' });
        if (q.from) gq.set('from', q.from);
        if (to) gq.set('to', to);
        grids = await api('GET', '/api/v1/metrics/rates?' + gq).catch(() => null);
      }
    } catch (error) {
      $('#m-range').textContent = sentence(error);
      document.body.dataset.metrics = 'error';
      return;
    }
    S.series = series;
    S.gridRates = grids;
    const names = new Map(series.keys.map((k) => [k.code, placeName(k)]));
    $('#m-range').textContent = t('m_range', when(series.from), when(Date.parse(series.to) - 1), t('p_' + series.period));
    $('#m-cards').replaceChildren(h('div', { class: 'card' }, t('r_submitted'), h('b', {}, String(series.all.submitted))),
      ...ALL_RATES.map((r) => h('div', { class: 'card' }, t('r_' + r), h('b', {}, pctText(series.all[r])))));
    $('#m-charts').replaceChildren(...RATES.map((rate) => chart(rate, series, names)));
    $('#m-table').replaceChildren(h('table', { id: 'm-places' },
      h('thead', {}, h('tr', {}, h('th', {}, t('m_place')), h('th', { class: 'num' }, t('r_submitted')), ALL_RATES.map((r) => h('th', { class: 'num' }, t('r_' + r))))),
      h('tbody', {}, series.totals.map((row) => h('tr', {}, h('td', {}, names.get(row.key) || row.key),
        h('td', { class: 'num' }, row.rates.submitted), ALL_RATES.map((r) => h('td', { class: 'num', title: row.rates[r].numerator + '/' + row.rates[r].denominator }, pctText(row.rates[r]))))))));
    await loadMetricsMap();
    renderWorst(grids);
    document.body.dataset.metrics = 'ready';
  }
  // The same map as the board's, shaded by the chosen rate over the range.
  async function loadMetricsMap() {
    const q = S.metricsQuery;
    q.mapRate = $('#m-map-rate').value;
    const query = new URLSearchParams({ rate: q.mapRate });
    if (q.from) query.set('from', q.from);
    if (q.to) query.set('to', dayAfter(q.to));
    try {
      const map = await fetchMap('/api/v1/metrics/map?' + query);
      S.gridNames = new Map([...map.querySelectorAll('path[data-grid]')].map((p) => [p.dataset.grid, S.lang === 'en' ? p.dataset.nameEn || p.dataset.name : p.dataset.name]));
      $('#m-map').replaceChildren(map);
    } catch (_) { $('#m-map').replaceChildren(); }
  }
  // The grids doing worst: lowest completion, then on-time, then satisfaction.
  function renderWorst(grids) {
    const box = $('#m-worst');
    if (!grids) { box.replaceChildren(h('p', { class: 'muted' }, t('m_nodata'))); return; }
    const score = (r) => [pct(r.completion) ?? 101, pct(r.on_time) ?? 101, pct(r.satisfaction) ?? 101];
    const rows = grids.rows.filter((r) => r.key !== 'all' && r.rates.valid > 0)
      .sort((a, b) => { const x = score(a.rates), y = score(b.rates); return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]; }).slice(0, 10);
    if (!rows.length) { box.replaceChildren(h('p', { class: 'muted' }, t('m_nodata'))); return; }
    box.replaceChildren(h('table', { id: 'm-worst-table' },
      h('thead', {}, h('tr', {}, h('th', {}, t('f_grid')), h('th', { class: 'num' }, t('r_submitted')), RATES.map((r) => h('th', { class: 'num' }, t('r_' + r))))),
      h('tbody', {}, rows.map((row) => h('tr', {}, h('td', {}, (S.gridNames && S.gridNames.get(row.key) ? S.gridNames.get(row.key) + ' ' : ''), h('span', { class: 'muted' }, row.key)), h('td', { class: 'num' }, row.rates.submitted),
        RATES.map((r) => h('td', { class: 'num' }, pctText(row.rates[r]))))))));
  }
  // A hand-drawn SVG line chart: one line per place, gaps where a period
  // has no tickets, the y axis from 0 to 100 %.
  function chart(rate, series, names) {
    const W = 640, H = 250, L = 44, R = 24, TOP = 12, B = 34;
    const pw = W - L - R, ph = H - TOP - B;
    const buckets = series.buckets;
    const x = (i) => L + (buckets.length === 1 ? pw / 2 : (i * pw) / (buckets.length - 1));
    const y = (p) => TOP + ph - (p * ph) / 100;
    const root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': t('r_' + rate), class: 'chart-svg', 'data-rate': rate });
    for (const p of [0, 25, 50, 75, 100]) {
      root.append(svg('line', { x1: L, x2: W - R, y1: y(p), y2: y(p), stroke: '#d8dde4', 'stroke-width': 1 }),
        svg('text', { x: L - 6, y: y(p) + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#5b6675' }, p + '%'));
    }
    const step = Math.max(1, Math.ceil(buckets.length / 8));
    buckets.forEach((b, i) => {
      if (i % step === 0 || i === buckets.length - 1) {
        root.append(svg('text', { x: x(i), y: H - 12, 'text-anchor': 'middle', 'font-size': 11, fill: '#5b6675' }, b.length === 10 ? b.slice(5) : b));
      }
    });
    const index = new Map(buckets.map((b, i) => [b, i]));
    const byKey = new Map();
    for (const row of series.rows) {
      if (!byKey.has(row.key)) byKey.set(row.key, []);
      byKey.get(row.key).push(row);
    }
    const legend = h('ul', { class: 'legend' });
    let drawn = 0;
    [...byKey.keys()].forEach((key, k) => {
      const colour = COLOURS[k % COLOURS.length];
      const dash = k >= COLOURS.length ? '5 3' : null;
      const points = byKey.get(key).map((row) => ({ i: index.get(row.bucket), p: pct(row.rates[rate]), r: row.rates[rate], b: row.bucket }))
        .filter((pt) => pt.p != null).sort((a, b) => a.i - b.i);
      if (!points.length) return;
      drawn++;
      // Consecutive periods join; a period without data breaks the line.
      let run = [];
      const flush = () => {
        if (run.length > 1) root.append(svg('polyline', { points: run.map((pt) => x(pt.i).toFixed(1) + ',' + y(pt.p).toFixed(1)).join(' '), fill: 'none', stroke: colour, 'stroke-width': 2, 'stroke-dasharray': dash }));
        run = [];
      };
      points.forEach((pt, j) => { if (j > 0 && pt.i !== points[j - 1].i + 1) flush(); run.push(pt); });
      flush();
      for (const pt of points) {
        root.append(svg('circle', { cx: x(pt.i).toFixed(1), cy: y(pt.p).toFixed(1), r: 3, fill: colour },
          svg('title', {}, (names.get(key) || key) + ' ' + pt.b + ': ' + pt.p.toFixed(1) + '% (' + pt.r.numerator + '/' + pt.r.denominator + ')')));
      }
      const swatch = h('i', {});
      swatch.style.background = colour;
      legend.append(h('li', {}, swatch, names.get(key) || key));
    });
    if (!drawn) root.append(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', fill: '#5b6675' }, t('m_nodata')));
    return h('figure', { class: 'chart', 'data-rate': rate }, h('figcaption', {}, t('r_' + rate)), root, legend);
  }
  // CSV of what the page shows: each place per period, then each place's
  // whole range; built in the browser, downloaded as a blob (no request).
  function exportCsv() {
    const series = S.series;
    if (!series) return;
    const names = new Map(series.keys.map((k) => [k.code, k.name]));
    const cells = ['place', 'name', 'period', 'submitted', 'valid'];
    for (const r of ALL_RATES) cells.push(r + '_numerator', r + '_denominator', r + '_percent');
    const lines = [cells.join(',')];
    const quote = (v) => { const s = String(v ?? ''); return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s; };
    const line = (key, bucket, rates) => {
      const row = [key, names.get(key) || '', bucket, rates.submitted, rates.valid];
      for (const r of ALL_RATES) { const p = pct(rates[r]); row.push(rates[r].numerator, rates[r].denominator, p == null ? '' : p.toFixed(1)); }
      lines.push(row.map(quote).join(','));
    };
    for (const row of series.rows) line(row.key, row.bucket, row.rates);
    for (const row of series.totals) line(row.key, 'all', row.rates);
    const blob = new Blob(['\ufeff' + lines.join('\r\n') + '\r\n'], { type: 'text/csv;charset=utf-8' });
    const link = h('a', { href: URL.createObjectURL(blob), download: 'gridloop-rates-' + series.scope.code + '.csv' });
    document.body.append(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  }

  // --- routing between pages -----------------------------------------------------
  async function route() {
    if (!S.token || !S.me) { showSection('login'); return; }
    const may = S.me.may || {};
    // A caller the board does not serve goes to their own workspace, as
    // /me names it (the permit rule's answer), or is told where their work is.
    if (!may.board) { showWorkspace(); return; }
    const hash = location.hash || '#/board';
    const ticket = hash.match(/^#\/ticket\/(T-\d{1,12})$/);
    if (ticket) await showTicket(ticket[1]);
    else if (hash === '#/metrics' && may.metrics) await showMetrics();
    else if (hash === '#/intake' && may.intake) await showIntake();
    else if (hash === '#/missed') await showBoard('missed');
    else await showBoard();
    document.body.dataset.view = S.view;
  }

  function showWorkspace() {
    S.view = 'workspace';
    showSection('workspace');
    const where = S.me.workspace;
    const box = $('#workspace');
    box.replaceChildren();
    append(box, [h('h1', {}, t('role_' + S.me.role) + ' ' + S.me.id),
      h('p', { id: 'ws-line', 'data-workspace': where || '' }, where ? t('ws_moved', where) : t('ws_none')),
      where ? h('p', {}, h('a', { href: where, id: 'ws-link' }, where)) : null]);
    document.body.dataset.view = 'workspace';
    if (where) setTimeout(() => location.assign(where), 1500);
  }

  async function start() {
    $('#alerts').addEventListener('click', enableAlerts);
    $('#print').addEventListener('click', () => window.print());
    document.addEventListener('visibilitychange', seen);
    window.addEventListener('focus', seen);
    $('#lang').addEventListener('click', () => {
      S.lang = S.lang === 'zh' ? 'en' : 'zh';
      localStorage.setItem('gridloop.lang', S.lang);
      applyLanguage();
      S.ticketStatus = '';
      if (S.me) route();
    });
    $('#logout').addEventListener('click', logout);
    $('#login-form').addEventListener('submit', async (e) => {
      e.preventDefault();
      if (await login($('#token').value)) { $('#token').value = ''; route(); }
    });
    window.addEventListener('hashchange', route);
    setInterval(tick, 1000);
    applyLanguage();
    if (S.token && (await login(S.token))) await route();
    else { showSection('login'); $('#token').focus(); }
  }
  start();
})();
